"""Garbage-collector settings for a long-running process: keep full collections short.

CPython's full (generation 2) collection walks every tracked object while the event loop waits. A server holds
several hundred thousand objects from start-up on (modules, routes and their models, SQLAlchemy's mappers,
tables and compiled statements) that will never be garbage, and walking them paused every request in flight for
45–86 ms (docs/performance.md, "Latency against offered load"). `gc.freeze()` moves everything that exists once
start-up is done into the permanent generation, which collections skip; what requests create is collected as
before, so memory stays bounded.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect once, then exempt every surviving object from later collections; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
