"""`foureyes badges import FILE.csv|FILE.jsonl`: earned badges and customers, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from foureyes.cli.common import run_with_ctx

badges_app = typer.Typer(help="Badges administration.", no_args_is_help=True)


@badges_app.command("import")
def import_badges(
    file: Annotated[Path, typer.Argument(help="A .csv (with header) or .jsonl file.", exists=True, dir_okay=False)],
    org: Annotated[int, typer.Option("--org", help="The org the rows belong to.")],
) -> None:
    """Import earned badges (badgeMetaId, customerId, earnEventDate, earnExpiresOn) and customers."""
    from foureyes.badges.import_service import import_file, read_rows

    rows = list(read_rows(file))

    async def go(ctx):  # type: ignore[no-untyped-def]
        with typer.progressbar(length=len(rows), label="importing") as bar:
            return await import_file(ctx, org, rows, bar.update)

    result = run_with_ctx(go)
    if result.rejected:
        typer.echo(f"rejected {len(result.rejected)} of {result.rows} rows; nothing was applied:", err=True)
        for n, reason in result.rejected:
            typer.echo(f"  row {n}: {reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"imported {result.earns} earned badges and {result.customers} new customers from {result.rows} rows")
