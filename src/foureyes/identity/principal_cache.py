"""A short-lived, bounded, in-process cache of resolved Principals, so a repeated caller costs no SQL.

Keys never hold a raw secret: Basic is keyed by an HMAC of the whole header (as the VerificationCache is), tokens
by their verified claims (the JWT check itself still runs on every call). Entries live `ttl` seconds at most.

Invalidation is by generation: a commit that wrote an identity table (users, API clients, grants, org units,
orgs) in this process bumps one process-wide counter, and every entry from an older generation is dead. Such
writes are rare, so clearing everything is cheap. They are caught by session events (see `_track_*` below), so a
new write path cannot forget to invalidate. Other processes (other nodes, a `foureyes seed` run) are not told:
they converge within the TTL (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from foureyes.identity.principal import Principal

# login_throttle is deliberately absent: failures are bookkept on every bad password and would empty the cache
# for everyone; the Authenticator evicts the one username instead.
IDENTITY_TABLES = frozenset({"users", "api_clients", "grants", "org_units", "orgs"})
_DIRTY = "foureyes_identity_written"

_generation = 0


def generation() -> int:
    """The process-wide identity generation; an entry is valid only for the generation it was read in."""
    return _generation


def invalidate_principals() -> None:
    """Forget every cached principal in this process (called after any committed identity write)."""
    global _generation
    _generation += 1


class PrincipalCache:
    """LRU of Principal by credential key, valid for `ttl_seconds` and the current identity generation."""

    def __init__(
        self,
        hmac_key: bytes,
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = hmac_key
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, int, Principal]] = OrderedDict()
        self._seen_generation = _generation

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def __len__(self) -> int:
        return len(self._entries)

    def basic_key(self, header: str) -> Hashable:
        return ("basic", hmac.new(self._key, header.encode(), hashlib.sha256).digest())

    def get(self, key: Hashable) -> Principal | None:
        if not self.enabled:
            return None
        self._drop_stale_generation()
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, gen, principal = entry
        if gen != _generation or expires <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return principal

    def put(self, key: Hashable, principal: Principal, read_generation: int) -> None:
        """Remember `principal`, read from the database in `read_generation` (taken BEFORE the read).

        A write committed while the read ran has bumped the generation, so its possibly stale result is dropped.
        """
        if not self.enabled or read_generation != _generation:
            return
        self._drop_stale_generation()
        self._entries[key] = (self.clock() + self.ttl, read_generation, principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget_user(self, username: str) -> None:
        """Drop every entry of this username (after a failed login, so its next success reads the lock-out row)."""
        doomed = [k for k, (_, _, p) in self._entries.items() if p.kind == "user" and p.name == username]
        for key in doomed:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def _drop_stale_generation(self) -> None:
        if self._seen_generation != _generation:
            self._entries.clear()
            self._seen_generation = _generation


def _is_identity_table(table: Any) -> bool:
    return getattr(table, "name", None) in IDENTITY_TABLES


@event.listens_for(Session, "before_flush")
def _track_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _is_identity_table(getattr(obj, "__table__", None)):
            session.info[_DIRTY] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _track_statement(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE/INSERT statements (`update(User)…`) bypass the flush.
    if (state.is_update or state.is_delete or state.is_insert) and _is_identity_table(
        getattr(state.statement, "table", None)
    ):
        state.session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _invalidate_on_commit(session: Session) -> None:
    # After the commit, not before: a concurrent reader that saw the old rows took the old generation.
    if session.info.pop(_DIRTY, False):
        invalidate_principals()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_DIRTY, None)
