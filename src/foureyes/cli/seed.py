"""`foureyes seed FILE.json [--dry-run]` and `foureyes export --org ID`: tenants as files (contract §8)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from foureyes.cli.common import run_with_ctx
from foureyes.core.context import AppContext
from foureyes.tenants.apply import TenantFileError, apply_tenant_file
from foureyes.tenants.export import export_org
from foureyes.tenants.schema import Problem


def _refuse(problems: list[Problem]) -> None:
    """Every problem on stderr (one per line) and as JSON on stdout; exit 1."""
    for p in problems:
        typer.echo(f"error: {p.path}: {p.message}", err=True)
    sys.stdout.write(json.dumps({"applied": False, "problems": [p.as_dict() for p in problems]}, indent=2) + "\n")
    raise typer.Exit(1)


def seed(
    file: Annotated[Path, typer.Argument(help="Tenant file (JSON); '-' reads standard input.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
) -> None:
    """Apply a declarative tenant file in one transaction, idempotently; prints a JSON summary."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        _refuse([Problem("$", f"Cannot read {file}: {exc.strerror}")])
        return
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        _refuse([Problem("$", f"Not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")])
        return

    async def _apply(ctx: AppContext) -> dict[str, Any] | list[Problem]:
        try:
            return await apply_tenant_file(ctx, raw, dry_run=dry_run)
        except TenantFileError as exc:
            return exc.problems

    result = run_with_ctx(_apply)
    if isinstance(result, list):
        _refuse(result)
        return
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


def export(
    org: Annotated[int, typer.Option("--org", help="The org to export.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write an org back out as a tenant file (passwords and secrets omitted)."""
    doc = run_with_ctx(lambda ctx: export_org(ctx, org))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
