"""`foureyes org|unit|user|client create|list`: scriptable tenant administration."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from foureyes.cli.common import emit, emit_rows, parse_grants, run_with_ctx
from foureyes.core.context import AppContext
from foureyes.identity.repository import IdentityRepository
from foureyes.identity.service import GrantSpec, IdentityService

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
PermOpt = Annotated[
    list[str] | None,
    typer.Option("--permission", "-p", help="Permission name, or Name@unitId to grant it for one unit and below."),
]

org_app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)
unit_app = typer.Typer(help="Org units: concept → zone → store → till.", no_args_is_help=True)
user_app = typer.Typer(help="Intouch and till users with their permissions.", no_args_is_help=True)
client_app = typer.Typer(help="OAuth API clients (key/secret).", no_args_is_help=True)


@org_app.command("create")
def org_create(
    org_id: Annotated[int, typer.Option("--id")], name: Annotated[str, typer.Option("--name")], as_json: JsonOpt = False
) -> None:
    """Create an org with an explicit numeric id."""
    org = run_with_ctx(lambda ctx: IdentityService(ctx.db).create_org(org_id, name))
    emit({"id": org.id, "name": org.name}, as_json, lambda: typer.echo(f"created org {org.id} {org.name}"))


@org_app.command("list")
def org_list(as_json: JsonOpt = False) -> None:
    """List orgs."""

    async def _list(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.read() as s:
            return [{"id": o.id, "name": o.name} for o in await IdentityRepository(s).list_orgs()]

    rows = run_with_ctx(_list)
    emit_rows(rows, as_json, lambda r: f"{r['id']}\t{r['name']}")


@unit_app.command("create")
def unit_create(
    org: Annotated[int, typer.Option("--org")],
    unit_id: Annotated[str, typer.Option("--id")],
    kind: Annotated[str, typer.Option("--kind", help="concept, zone, store or till")],
    parent: Annotated[str | None, typer.Option("--parent")] = None,
    name: Annotated[str, typer.Option("--name")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an org unit under its parent."""
    unit = run_with_ctx(lambda ctx: IdentityService(ctx.db).create_unit(org, unit_id, kind, name, parent))
    emit(
        {"org": org, "id": unit.id, "kind": unit.kind, "path": unit.path},
        as_json,
        lambda: typer.echo(f"created {unit.kind} {unit.id} at {unit.path}"),
    )


@unit_app.command("list")
def unit_list(org: Annotated[int, typer.Option("--org")], as_json: JsonOpt = False) -> None:
    """List an org's units as a tree."""

    async def _list(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.read() as s:
            units = await IdentityRepository(s).list_units(org)
            return [{"id": u.id, "kind": u.kind, "name": u.name, "parent": u.parent_id, "path": u.path} for u in units]

    rows = run_with_ctx(_list)
    emit_rows(rows, as_json, lambda r: f"{'  ' * (str(r['path']).count('/') - 2)}{r['kind']} {r['id']} {r['name']}")


@user_app.command("create")
def user_create(
    org: Annotated[int, typer.Option("--org")],
    username: Annotated[str, typer.Option("--username")],
    password: Annotated[str, typer.Option("--password", envvar="FOUREYES_NEW_USER_PASSWORD")],
    kind: Annotated[str, typer.Option("--kind", help="intouch or till")] = "intouch",
    permission: PermOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user with permissions (org-wide or unit-scoped)."""
    grants = [GrantSpec(p, u) for p, u in parse_grants(permission)]
    user = run_with_ctx(lambda ctx: IdentityService(ctx.db).create_user(org, username, password, kind, grants))
    emit(
        {"userId": user.id, "username": user.username, "kind": user.kind, "org": org},
        as_json,
        lambda: typer.echo(f"created {user.kind} user {user.id} {user.username}"),
    )


@user_app.command("list")
def user_list(org: Annotated[int, typer.Option("--org")], as_json: JsonOpt = False) -> None:
    """List an org's users and their permissions."""

    async def _list(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.read() as s:
            repo = IdentityRepository(s)
            out = []
            for u in await repo.list_users(org):
                grants = await repo.list_grants("user", u.id)
                out.append(
                    {
                        "userId": u.id,
                        "username": u.username,
                        "kind": u.kind,
                        "active": u.active,
                        "permissions": [{"name": g.permission, "unit": g.unit_id} for g in grants],
                    }
                )
            return out

    rows = run_with_ctx(_list)
    emit_rows(
        rows,
        as_json,
        lambda r: (
            f"{r['userId']}\t{r['kind']}\t{r['username']}\t"
            + ",".join(f"{p['name']}@{p['unit'] or '*'}" for p in r["permissions"])
        ),
    )


@client_app.command("create")
def client_create(
    org: Annotated[int, typer.Option("--org")],
    key: Annotated[str, typer.Option("--key")],
    secret: Annotated[str, typer.Option("--secret", envvar="FOUREYES_NEW_CLIENT_SECRET")],
    name: Annotated[str, typer.Option("--name")] = "",
    permission: PermOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an OAuth API client."""
    grants = [GrantSpec(p, u) for p, u in parse_grants(permission)]
    client = run_with_ctx(lambda ctx: IdentityService(ctx.db).create_client(org, key, secret, name, grants))
    emit(
        {"clientId": client.id, "key": client.key, "org": org},
        as_json,
        lambda: typer.echo(f"created client {client.id} {client.key}"),
    )


@client_app.command("list")
def client_list(org: Annotated[int, typer.Option("--org")], as_json: JsonOpt = False) -> None:
    """List an org's API clients (secrets are never shown)."""

    async def _list(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.read() as s:
            repo = IdentityRepository(s)
            out = []
            for c in await repo.list_clients(org):
                grants = await repo.list_grants("client", c.id)
                out.append(
                    {
                        "clientId": c.id,
                        "key": c.key,
                        "name": c.name,
                        "active": c.active,
                        "permissions": [{"name": g.permission, "unit": g.unit_id} for g in grants],
                    }
                )
            return out

    rows = run_with_ctx(_list)
    emit_rows(rows, as_json, lambda r: f"{r['clientId']}\t{r['key']}")
