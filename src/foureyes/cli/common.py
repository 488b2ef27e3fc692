"""Helpers shared by CLI commands: settings, an app context for one command, output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from foureyes.core.context import AppContext
from foureyes.core.errors import AppError
from foureyes.core.settings import Settings

T = TypeVar("T")


def load_settings(**overrides: Any) -> Settings:
    """Settings from FOUREYES_* variables; a bad value is a one-line error naming the variable (exit 2)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"FOUREYES_{field.upper()}" if field else "settings"
            typer.echo(f"error: invalid configuration: {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def run_with_ctx(fn: Callable[[AppContext], Awaitable[T]]) -> T:
    """Build a context, run one async command with it, close it; AppErrors become exit code 1."""

    async def _main() -> T:
        ctx = AppContext.build(load_settings())
        try:
            return await fn(ctx)
        finally:
            await ctx.close()

    try:
        return asyncio.run(_main())
    except AppError as exc:
        for item in exc.items:
            typer.echo(f"error: {item.message}" + (f" ({item.reference})" if item.reference else ""), err=True)
        raise typer.Exit(1) from None
    except DBAPIError as exc:
        # An unmigrated store is an operator mistake, not a crash: say what to run instead of a traceback.
        message = str(exc.orig or exc).lower()
        if "no such table" in message or ("relation" in message and "does not exist" in message):
            typer.echo("error: the database has no schema yet; run `foureyes db upgrade` first", err=True)
            raise typer.Exit(1) from None
        raise


def emit(payload: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    if as_json or human is None:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        human()


def emit_rows(rows: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str]) -> None:
    """A list as JSON, or one formatted line per row."""
    if as_json:
        emit(rows, True)
        return
    for row in rows:
        typer.echo(line(row))


def parse_grants(values: list[str] | None) -> list[tuple[str, str | None]]:
    """`--permission Name` (org-wide) or `--permission Name@unitId` (that unit and below)."""
    out: list[tuple[str, str | None]] = []
    for value in values or []:
        name, _, unit = value.partition("@")
        out.append((name.strip(), unit.strip() or None))
    return out
