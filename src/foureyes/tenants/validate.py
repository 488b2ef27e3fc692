"""Whole-file rules of a tenant file, checked before anything touches the database.

Every rule adds a `Problem` and carries on, so one run lists everything wrong with the file. What can only
be known against the database (a username taken by another org, a unit that would have to move) is
checked while applying, inside the transaction that is then rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from foureyes.badges.rules import owner_type
from foureyes.badges.schemas import MetaInput, parse_meta
from foureyes.core.errors import AppError
from foureyes.identity.models import PERMISSIONS
from foureyes.tenants.schema import OrgSpec, Problem, TenantFile, UnitSpec, json_path, parse_structure
from foureyes.workflows.config import MASK, WorkflowConfig
from foureyes.workflows.types import lookup

CHILD_KIND = {"concept": "zone", "zone": "store", "store": "till", "till": None}


@dataclass
class FlatUnit:
    path: str
    spec: UnitSpec
    parent_id: str | None


@dataclass
class OrgPlan:
    """One org of the file with everything parsed: units parent-first, badge bodies, typed configs."""

    path: str
    spec: OrgSpec
    units: list[FlatUnit] = field(default_factory=list)
    metas: list[MetaInput] = field(default_factory=list)
    configs: dict[str, WorkflowConfig] = field(default_factory=dict)


def validate(raw: Any) -> tuple[list[OrgPlan], list[Problem]]:
    """The plans of a file, or (if anything is wrong) every problem found."""
    tenant, problems = parse_structure(raw)
    if tenant is None:
        return [], problems
    return _semantic(tenant)


def _semantic(tenant: TenantFile) -> tuple[list[OrgPlan], list[Problem]]:
    problems: list[Problem] = []
    plans: list[OrgPlan] = []
    org_ids: dict[int, str] = {}
    usernames: dict[str, str] = {}
    keys: dict[str, str] = {}
    badge_ids: dict[str, str] = {}
    for i, org in enumerate(tenant.orgs):
        path = f"orgs[{i}]"
        _unique(problems, org_ids, org.id, f"{path}.id", "org id")
        plan = OrgPlan(path, org)
        _units(plan, problems)
        for j, user in enumerate(org.users):
            upath = f"{path}.users[{j}]"
            _unique(problems, usernames, user.username, f"{upath}.username", "username")
            _permissions(problems, user.permissions, upath)
        for j, client in enumerate(org.clients):
            cpath = f"{path}.clients[{j}]"
            _unique(problems, keys, client.key, f"{cpath}.key", "client key")
            _permissions(problems, client.permissions, cpath)
        _customers(plan, problems)
        _badges(plan, problems, badge_ids)
        _workflows(plan, problems)
        plans.append(plan)
    return (plans, []) if not problems else ([], problems)


def _unique(problems: list[Problem], seen: dict[Any, str], value: Any, path: str, what: str) -> None:
    if value in seen:
        problems.append(Problem(path, f"Duplicate {what} {value!r} (first at {seen[value]})"))
    else:
        seen[value] = path


def _units(plan: OrgPlan, problems: list[Problem]) -> None:
    seen: dict[str, str] = {}

    def walk(units: list[UnitSpec], base: str, parent: UnitSpec | None) -> None:
        for k, unit in enumerate(units):
            upath = f"{base}[{k}]"
            expected = "concept" if parent is None else CHILD_KIND[parent.kind]
            if unit.kind != expected:
                where = "at the top level" if parent is None else f"under a {parent.kind}"
                wanted = f"a {expected}" if expected else "nothing (a till has no children)"
                problems.append(Problem(f"{upath}.kind", f"A {unit.kind} cannot be {where}; expected {wanted}"))
            _unique(problems, seen, unit.id, f"{upath}.id", "unit id")
            plan.units.append(FlatUnit(upath, unit, parent.id if parent else None))
            walk(unit.children, f"{upath}.children", unit)

    walk(plan.spec.units, f"{plan.path}.units", None)


def _permissions(problems: list[Problem], perms: list[Any], base: str) -> None:
    # A grant's unit may be in the file or already in the database: that is checked while applying.
    for k, perm in enumerate(perms):
        if perm.name not in PERMISSIONS:
            message = f"Unknown permission {perm.name!r}; known: {', '.join(PERMISSIONS)}"
            problems.append(Problem(f"{base}.permissions[{k}].name", message))


def _customers(plan: OrgPlan, problems: list[Problem]) -> None:
    ids: dict[int, str] = {}
    identifiers: dict[tuple[str, str], str] = {}
    for j, customer in enumerate(plan.spec.customers):
        cpath = f"{plan.path}.customers[{j}]"
        if customer.id is not None:
            _unique(problems, ids, customer.id, f"{cpath}.id", "customer id")
        elif not customer.identifiers():
            problems.append(Problem(cpath, "A customer needs an id or at least one identifier"))
        for name, value in customer.identifiers().items():
            _unique(problems, identifiers, (name, value), f"{cpath}.{name}", "customer identifier")


def _badges(plan: OrgPlan, problems: list[Problem], badge_ids: dict[str, str]) -> None:
    names: dict[str, str] = {}
    for j, badge in enumerate(plan.spec.badges):
        bpath = f"{plan.path}.badges[{j}]"
        if badge.id is not None:
            _unique(problems, badge_ids, badge.id, f"{bpath}.id", "badge id")
        try:
            meta = parse_meta(badge.meta)
        except AppError as exc:
            for item in exc.items:
                where = f"{bpath}.meta.{item.reference}" if item.reference else f"{bpath}.meta"
                problems.append(Problem(where, item.message))
            continue
        if meta.start_on >= meta.expires_on:
            problems.append(Problem(f"{bpath}.meta.expiresOn", "Start Date should be before End Date"))
        _unique(problems, names, meta.name, f"{bpath}.meta.name", "badge name")
        for k, claim in enumerate(badge.claims):
            cpath = f"{bpath}.claims[{k}]"
            try:
                owner = owner_type(claim.ownerType, code_if_unknown=714)
            except AppError:
                problems.append(Problem(f"{cpath}.ownerType", f"Unknown owner type {claim.ownerType!r}"))
                continue
            if owner not in meta.doc["restrictedToOwners"]:
                problems.append(Problem(f"{cpath}.ownerType", f"{owner} is not in ownership.restrictedToOwners"))
            if not str(claim.referenceId).strip():
                problems.append(Problem(f"{cpath}.referenceId", "referenceId must not be empty"))
        plan.metas.append(meta)


def _workflows(plan: OrgPlan, problems: list[Problem]) -> None:
    for name, body in plan.spec.workflows.items():
        wpath = f"{plan.path}.workflows.{name}"
        rtype = lookup(name)
        if rtype is None:
            problems.append(Problem(wpath, f"Unknown request type {name!r}"))
            continue
        if rtype.name in plan.configs:
            problems.append(Problem(wpath, f"Request type {rtype.name} is configured twice"))
            continue
        try:
            plan.configs[rtype.name] = WorkflowConfig.model_validate(with_kept_secrets(body))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(Problem(f"{wpath}.{json_path(tuple(err['loc']))}", err["msg"]))


def with_kept_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """A webhook without a `secret` key (as exported) keeps its stored secret: send the mask in its place."""
    hooks = body.get("webhooks")
    if not isinstance(hooks, list):
        return body
    out = []
    for hook in hooks:
        if isinstance(hook, dict) and "secret" not in hook:
            hook = {**hook, "secret": MASK}
        out.append(hook)
    return {**body, "webhooks": out}
