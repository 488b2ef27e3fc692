"""Structured logs (structlog) with request id, org and actor on every line; secrets never logged."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from foureyes.core.security import is_secret_header, mask_secret

_configured = False


# Keys every request line carries, none a credential: not looked at (the access log runs this on every request).
_PLAIN_KEYS = frozenset(("event", "request_id", "org", "actor", "method", "path", "status", "ms", "level", "timestamp"))


def _mask_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: any key that names a credential is masked before rendering."""
    for key in list(event.keys()):
        if key in _PLAIN_KEYS:
            continue
        if is_secret_header(key) and isinstance(event[key], str):
            event[key] = mask_secret(event[key])
        elif key == "headers" and isinstance(event[key], dict):
            event[key] = {k: mask_secret(str(v)) if is_secret_header(k) else v for k, v in event[key].items()}
    return event


def configure_logging(level: str = "INFO", json_output: bool = False) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
