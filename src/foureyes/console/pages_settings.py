"""Workflow settings per request type (CanConfigureWorkflows): one form, stored as a new config revision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from foureyes.core.errors import AppError, ErrorItem
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.config_service import ConfigService
from foureyes.workflows.types import TYPES

from .web import BASE, ConsoleRoute, ConsoleUser, User, ctx_of, page, redirect

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)
OPS = ("<=", ">=", "==", "!=", "<", ">")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()][:60]


def to_form(config: dict[str, Any]) -> dict[str, str]:
    """A stored (public) config as the textarea/checkbox values of the form."""
    rules = [f"{r['path']} {r['op']} {str(r['value']).lower() if isinstance(r['value'], bool) else r['value']}"
             for r in config.get("autoApproveRules", [])]  # fmt: skip
    hooks = [f"{w['url']} {w['secret']}" if w.get("secret") else w["url"] for w in config.get("webhooks", [])]
    return {
        "enabled": "on" if config.get("enabled", True) else "",
        "autoApprove": "on" if config.get("autoApprove") else "",
        "makerCanCheck": "on" if config.get("makerCanCheck") else "",
        "requiredApprovals": str(config.get("requiredApprovals", 1)),
        "pendingTtlHours": "" if config.get("pendingTtlHours") is None else f"{config['pendingTtlHours']:g}",
        "allowedHosts": "\n".join(config.get("allowedHosts", [])),
        "hostRoutes": "\n".join(f"{k} => {v}" for k, v in config.get("hostRoutes", {}).items()),
        "rules": "\n".join(rules),
        "webhooks": "\n".join(hooks),
    }


def _rule(line: str, n: int, errors: list[ErrorItem]) -> dict[str, Any] | None:
    for op in OPS:
        path, sep, value = line.partition(f" {op} ")
        if sep:
            text = value.strip()
            parsed: Any = text
            if text.lower() in ("true", "false"):
                parsed = text.lower() == "true"
            else:
                try:
                    parsed = float(text)
                except ValueError:
                    parsed = text
            return {"path": path.strip(), "op": op, "value": parsed}
    errors.append(ErrorItem(2008, f"Rule {n}: write it as `path op value`, e.g. `body.points <= 100`", "rules"))
    return None


def from_form(values: dict[str, str]) -> tuple[WorkflowConfig | None, list[ErrorItem]]:
    errors: list[ErrorItem] = []
    routes: dict[str, str] = {}
    for n, line in enumerate(_lines(values.get("hostRoutes", "")), 1):
        source, sep, target = line.partition("=>")
        if not sep:
            errors.append(ErrorItem(2008, f"Host route {n}: write it as `https://named.host => http://real:port`",
                                    "hostRoutes"))  # fmt: skip
        routes[source.strip()] = target.strip()
    rules = [r for n, line in enumerate(_lines(values.get("rules", "")), 1) if (r := _rule(line, n, errors))]
    hooks = []
    for line in _lines(values.get("webhooks", "")):
        url, _, secret = line.partition(" ")
        hooks.append({"url": url.strip(), "secret": secret.strip() or None})
    raw = {
        "enabled": values.get("enabled") == "on",
        "autoApprove": values.get("autoApprove") == "on",
        "makerCanCheck": values.get("makerCanCheck") == "on",
        "requiredApprovals": values.get("requiredApprovals") or "1",
        "pendingTtlHours": values.get("pendingTtlHours") or None,
        "allowedHosts": _lines(values.get("allowedHosts", "")),
        "hostRoutes": routes,
        "autoApproveRules": rules,
        "webhooks": hooks,
    }
    if errors:
        return None, errors
    try:
        return WorkflowConfig.model_validate(raw), []
    except ValidationError as exc:
        for err in exc.errors()[:20]:
            loc = [str(p) for p in err.get("loc", ())]
            field = {"autoApproveRules": "rules"}.get(loc[0], loc[0]) if loc else None
            errors.append(ErrorItem(2008, f"{err.get('msg', 'invalid value')}", field))
        return None, errors


async def _settings_page(
    request: Request, user: ConsoleUser, type_name: str, values: dict[str, str] | None = None,
    errors: list[ErrorItem] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    current = await ConfigService(ctx_of(request)).get(user.principal, type_name, history=True)
    field_errors: dict[str, list[str]] = {}
    for item in errors or []:
        field_errors.setdefault(item.reference or "", []).append(item.message)
    context = {
        "title": "Workflow settings",
        "type_name": current["requestType"],
        "types": list(TYPES),
        "current": current,
        "values": values or to_form(current["config"]),
        "errors": errors or [],
        "field_errors": field_errors,
        "saved": request.query_params.get("notice") == "saved",
    }
    return page(request, "settings.html", context, status)


@router.get("/settings")
async def settings(request: Request, user: User) -> Response:
    """The configuration in force for one request type, with its revision history."""
    user.require("CanConfigureWorkflows")
    type_name = request.query_params.get("type", "EARN-BADGE")[:40]
    return await _settings_page(request, user, type_name)


@router.post("/settings")
async def save_settings(request: Request, user: User) -> Response:
    """Store a new revision (unchanged values store nothing)."""
    user.require("CanConfigureWorkflows")
    form = await request.form()
    type_name = str(form.get("type") or "")[:40]
    values = {k: str(form.get(k) or "")[:20000] for k in to_form({})}
    config, errors = from_form(values)
    if config is None:
        return await _settings_page(request, user, type_name, values, errors, 400)
    try:
        await ConfigService(ctx_of(request)).put(user.principal, type_name, config)
    except AppError as exc:
        return await _settings_page(request, user, type_name, values, exc.items, exc.status)
    return redirect(f"{BASE}/settings?type={type_name}&notice=saved")
