"""Small helpers shared by the badges services."""

from __future__ import annotations

from typing import Any

from foureyes.badges.rules import bad
from foureyes.identity.principal import Principal

MIGRATION_HEADER_VALUE = "migration"


def who(caller: Principal | int) -> tuple[int, str]:
    """(org id, actor) of a Principal, or of a bare org id for in-process callers (the request workflow)."""
    if isinstance(caller, Principal):
        return caller.org_id, caller.actor
    return int(caller), "system"


def page_args(page: Any, size: Any, *, default_size: int = 10, max_size: int = 1000) -> tuple[int, int]:
    """0-based page and page size from query strings."""
    try:
        p = int(page) if page not in (None, "") else 0
        s = int(size) if size not in (None, "") else default_size
    except (TypeError, ValueError):
        raise bad("page and size must be integers", "page") from None
    if not 0 <= p <= 10**6 or s < 1:
        raise bad("page must be 0..1000000 and size >= 1", "page")
    return p, min(s, max_size)


def pagination(page: int, size: int, total: int) -> dict[str, int]:
    return {"page": page, "size": size, "total": total, "totalPages": (total + size - 1) // size}


def bool_arg(value: Any, name: str, default: bool = False) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise bad(f"{name} must be true or false", name)


def order_arg(value: Any) -> str:
    text = (value or "ASC").strip().upper() if isinstance(value, str) or value is None else ""
    if text not in ("ASC", "DESC"):
        raise bad("order must be ASC or DESC", "order")
    return text
