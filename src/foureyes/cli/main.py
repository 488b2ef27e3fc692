"""The `foureyes` command (contract §8: serve, worker, db upgrade, seed, audit verify stay stable)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from foureyes.cli.badges import badges_app
from foureyes.cli.common import load_settings, run_with_ctx
from foureyes.cli.identity import client_app, org_app, unit_app, user_app
from foureyes.cli.seed import export, seed
from foureyes.core.context import AppContext

app = typer.Typer(help="foureyes: maker-checker request workflow and badges service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(org_app, name="org")
app.add_typer(unit_app, name="unit")
app.add_typer(user_app, name="user")
app.add_typer(client_app, name="client")
app.add_typer(badges_app, name="badges")
app.command()(seed)
app.command()(export)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default FOUREYES_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FOUREYES_PORT or 8000).")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the in-process worker.")] = False,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            envvar="FOUREYES_PROCESSES",
            help="Server processes sharing the port (default 1; one per CPU core uses them all).",
        ),
    ] = 1,
) -> None:
    """Serve the API and console (and, unless --no-worker, a worker); applies migrations first."""
    import os

    import uvicorn

    from foureyes.asgi import SERVE_WORKER_ENV, app_factory
    from foureyes.core import migrate

    # Children of a multi-process server read their settings from the environment (foureyes/asgi.py).
    if host:
        os.environ["FOUREYES_HOST"] = host
    if port:
        os.environ["FOUREYES_PORT"] = str(port)
    os.environ[SERVE_WORKER_ENV] = "0" if no_worker else "1"
    settings = load_settings()
    migrate.upgrade(settings)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 15,
    }
    if processes == 1:
        uvicorn.run(app_factory(), **options)
    else:
        # Python runs one core per process: a node with N cores serves best with N processes. Each has its own
        # pool, caches and (unless --no-worker) worker; leases and the single-winner decision keep them apart.
        uvicorn.run("foureyes.asgi:app_factory", factory=True, workers=processes, **options)


@app.command()
def worker() -> None:
    """Run a worker alone: executes approved requests and delivers webhooks until stopped."""
    from foureyes.runtime import run_worker_forever

    asyncio.run(run_worker_forever(load_settings()))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to `revision` (default head)."""
    from foureyes.core import migrate

    migrate.upgrade(load_settings(), revision)
    typer.echo(f"database at {revision}")


@audit_app.command("verify")
def audit_verify(org: Annotated[int | None, typer.Option("--org", help="Only this org.")] = None) -> None:
    """Check every org's hash chain; exit 0 only when all are intact."""
    from foureyes.audit.service import orgs_with_events, verify_org

    async def _verify(ctx: AppContext) -> bool:
        async with ctx.db.read() as s:
            orgs = [org] if org is not None else await orgs_with_events(s)
            ok = True
            for org_id in orgs:
                result = await verify_org(s, org_id)
                status = "ok" if result.ok else f"BROKEN: {result.problem}"
                typer.echo(f"org {org_id}: {result.events} events, {status}")
                ok = ok and result.ok
            return ok

    if not run_with_ctx(_verify):
        raise typer.Exit(1)
