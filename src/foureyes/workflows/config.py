"""Versioned per-(org, requestType) configuration (contract §6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from foureyes.core.security import SecretBox
from foureyes.webhooks.urls import check_webhook_url
from foureyes.workflows.hosts import HostError, normalise_base_url

MASK = "****"


class Rule(BaseModel):
    """Auto-approve when the value at `path` (dotted, inside IntouchAPITask-Payload) compares true."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=200, examples=["body.points"])
    op: Literal["<=", "<", ">=", ">", "==", "!="] = "<="
    value: float | str | bool


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # The same rules as org webhook subscriptions; the delivery loop checks again at send time.
        return check_webhook_url(value)


class WorkflowConfig(BaseModel):
    """What an org decides for one request type."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    autoApprove: bool = False
    autoApproveRules: list[Rule] = Field(default_factory=list, max_length=50)
    allowedHosts: list[str] = Field(default_factory=list, max_length=50)
    hostRoutes: dict[str, str] = Field(default_factory=dict)
    makerCanCheck: bool = False
    requiredApprovals: int = Field(default=1, ge=1, le=10)
    pendingTtlHours: float | None = Field(default=None, gt=0, le=24 * 365)
    webhooks: list[Webhook] = Field(default_factory=list, max_length=20)

    @field_validator("allowedHosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        try:
            return sorted({normalise_base_url(v, allow_ip=True) for v in value})
        except HostError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("hostRoutes")
    @classmethod
    def _routes(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50:
            raise ValueError("at most 50 host routes")
        try:
            return {
                normalise_base_url(k, allow_ip=True): normalise_base_url(v, allow_ip=True) for k, v in value.items()
            }
        except HostError as exc:
            raise ValueError(str(exc)) from exc


def default_config(own_base_url: str) -> WorkflowConfig:
    """A new org: every type enabled, no auto-approval, only this server may be called."""
    return WorkflowConfig(allowedHosts=[own_base_url])


def seal_webhook_secrets(config: WorkflowConfig, box: SecretBox, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Stored form: webhook secrets sealed; a masked secret sent back keeps the stored one for that URL."""
    stored = config.model_dump(mode="json")
    old = {w["url"]: w.get("secret") for w in (previous or {}).get("webhooks", [])}
    for hook in stored["webhooks"]:
        secret = hook.get("secret")
        if secret == MASK:
            hook["secret"] = old.get(hook["url"])
        elif secret:
            hook["secret"] = box.seal(secret)
    return stored


def public_view(stored: dict[str, Any]) -> dict[str, Any]:
    view = dict(stored)
    view["webhooks"] = [
        {"url": w["url"], "secret": MASK if w.get("secret") else None} for w in stored.get("webhooks", [])
    ]
    return view
