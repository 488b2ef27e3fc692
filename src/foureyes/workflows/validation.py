"""ValidateMakerAccess and ValidatePayload (contract §4): every reason is collected before answering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foureyes.core.errors import ErrorItem
from foureyes.core.security import SecretBox, is_secret_header, mask_secret
from foureyes.identity.principal import Principal
from foureyes.identity.repository import IdentityRepository
from foureyes.workflows.config import WorkflowConfig
from foureyes.workflows.hosts import is_allowed, route_for
from foureyes.workflows.schemas import EntityInfo, TaskPayload
from foureyes.workflows.types import RequestType

PAYLOAD = "payload.IntouchAPITask-Payload"
CHAIN = (("conceptId", "concept"), ("zoneId", "zone"), ("storeId", "store"), ("tillId", "till"))
# Headers the caller may not set: Host would reach another virtual host behind an allow-listed address,
# framing headers would desynchronise the call, and the idempotency key is the executor's.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
     "expect", "idempotency-key"}
)  # fmt: skip


@dataclass
class CheckedTask:
    """A payload that passed ValidatePayload, in the forms we store and call."""

    base_url: str
    target_base: str
    method: str
    body: Any
    stored: dict[str, Any]  # the echo shown to people: secret header values masked
    sealed_headers: dict[str, str]


async def check_entity(session: AsyncSession, org_id: int, entity: EntityInfo) -> tuple[str | None, list[ErrorItem]]:
    """The till's path when entityInfo names one consistent concept → zone → store → till chain of this org."""
    ids = entity.ids()
    paths = await IdentityRepository(session).unit_paths(org_id, set(ids.values()))
    expected = "/"
    problems: list[ErrorItem] = []
    for field, _kind in CHAIN:
        unit_id = ids[field]
        expected = f"{expected}{unit_id}/"
        if paths.get(unit_id) != expected:
            problems.append(
                ErrorItem(
                    2008,
                    f"{field} {unit_id!r} is not a {_kind} of this org under the units named before it",
                    f"entityInfo.{field}",
                )
            )
    return (expected if not problems else None), problems


def check_maker(principal: Principal, unit_path: str) -> bool:
    return principal.can("CanMakeRequest", unit_path)


def check_task(
    rtype: RequestType, task: TaskPayload, config: WorkflowConfig, box: SecretBox
) -> tuple[CheckedTask | None, list[ErrorItem]]:
    """Method, path and host pinned to the type's downstream call; body schema; secrets sealed."""
    problems: list[ErrorItem] = []
    method = task.method.strip().upper()
    if method != rtype.method and method not in rtype.also_accepts:
        problems.append(
            ErrorItem(
                2008,
                f"{rtype.name} calls {rtype.method} {rtype.path}; method {method!r} is not allowed",
                f"{PAYLOAD}.method",
            )
        )
    if task.path.strip() != rtype.path:
        problems.append(
            ErrorItem(2008, f"{rtype.name} calls path {rtype.path}; got {task.path[:100]!r}", f"{PAYLOAD}.path")
        )
    for name in task.headers:
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("proxy-"):
            problems.append(
                ErrorItem(2008, f"header {name} may not be set by the request", f"{PAYLOAD}.headers.{name}")
            )
    allowed, base_or_reason = is_allowed(task.hostname, config.allowedHosts)
    if not allowed:
        problems.append(ErrorItem(2008, base_or_reason, f"{PAYLOAD}.hostname"))
    body, body_problems = rtype.check_body(task.body, task.queryParams)
    problems.extend(body_problems)
    if problems:
        return None, problems
    headers = {k: str(v) for k, v in task.headers.items()}
    stored = {
        "hostname": task.hostname,
        "path": rtype.path,
        "method": rtype.method,
        "pathParams": task.pathParams,
        "queryParams": task.queryParams,
        "body": body,
        "headers": {k: (mask_secret(v) if is_secret_header(k) else v) for k, v in headers.items()},
    }
    sealed = {k: box.seal(v) for k, v in headers.items() if is_secret_header(k)}
    return CheckedTask(
        base_or_reason, route_for(base_or_reason, config.hostRoutes), rtype.method, body, stored, sealed
    ), []


def auto_approves(config: WorkflowConfig, stored_task: dict[str, Any]) -> bool:
    """autoApprove, or any rule whose value at `path` compares true (goodwill points ≤ N, …)."""
    if config.autoApprove:
        return True
    return any(_rule_matches(rule.path, rule.op, rule.value, stored_task) for rule in config.autoApproveRules)


def _rule_matches(path: str, op: str, expected: Any, task: dict[str, Any]) -> bool:
    value: Any = task
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    try:
        if isinstance(expected, bool) or isinstance(expected, str):
            actual: Any = value if isinstance(expected, bool) else str(value)
        else:
            actual = float(value)
    except (TypeError, ValueError):
        return False
    comparisons = {
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    try:
        return bool(comparisons[op](actual, expected))
    except TypeError:
        return False
