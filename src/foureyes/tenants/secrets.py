"""Passwords and client secrets of a tenant file, checked and hashed before the write transaction.

Argon2 is slow on purpose; running it inside the transaction would hold SQLite's single writer for
seconds. So a read first finds each user's and client's stored hash; a secret that still verifies is
"unchanged" (no rehash, so re-applying a file changes nothing), anything else is hashed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from foureyes.core.context import AppContext
from foureyes.core.security import hash_password_async, verify_secret_async
from foureyes.tenants.repository import TenantRepository
from foureyes.tenants.validate import OrgPlan


@dataclass(frozen=True)
class PreparedSecret:
    """`checked_hash`: the stored hash the secret verified against (unchanged); `new_hash`: else its hash."""

    checked_hash: str | None
    new_hash: str | None


@dataclass
class PreparedSecrets:
    users: dict[str, PreparedSecret]
    clients: dict[str, PreparedSecret]


async def prepare(ctx: AppContext, plans: list[OrgPlan]) -> PreparedSecrets:
    wanted_users = {u.username: u.password for p in plans for u in p.spec.users if u.password is not None}
    wanted_clients = {c.key: c.secret for p in plans for c in p.spec.clients if c.secret is not None}
    async with ctx.db.read() as s:
        repo = TenantRepository(s)
        user_hashes = {n: u.password_hash for n, u in (await repo.users_by_name(list(wanted_users))).items()}
        client_hashes = {k: c.secret_hash for k, c in (await repo.clients_by_key(list(wanted_clients))).items()}
    users = {n: await _prepare(secret, user_hashes.get(n)) for n, secret in wanted_users.items() if secret}
    clients = {k: await _prepare(secret, client_hashes.get(k)) for k, secret in wanted_clients.items() if secret}
    return PreparedSecrets(users, clients)


async def _prepare(secret: str, stored: str | None) -> PreparedSecret:
    if stored is not None and await verify_secret_async(secret, stored):
        return PreparedSecret(stored, None)
    return PreparedSecret(None, await hash_password_async(secret))


async def resolve(prepared: PreparedSecret | None, secret: str | None, current_hash: str | None) -> str | None:
    """The hash to store, or None to keep the current one (no secret given, or it still verifies)."""
    if secret is None:
        return None
    if prepared is not None and prepared.checked_hash is not None and prepared.checked_hash == current_hash:
        return None
    if prepared is not None and prepared.new_hash is not None:
        return prepared.new_hash
    # The stored hash changed between the read and this transaction: decide again, here.
    if current_hash is not None and await verify_secret_async(secret, current_hash):
        return None
    return await hash_password_async(secret)
