"""The bulk import behind `foureyes badges import`: all rows or none, rejected rows with reasons."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import func, select

from foureyes.badges.import_service import import_file, read_rows
from foureyes.badges.models import BadgeEarn
from foureyes.core.context import AppContext
from foureyes.customers.models import Customer
from tests.integration.badges.helpers import create_badge, setup


async def _counts(ctx: AppContext) -> tuple[int, int]:
    async with ctx.db.read() as s:
        earns = await s.scalar(select(func.count()).select_from(BadgeEarn))
        customers = await s.scalar(select(func.count()).select_from(Customer))
    return int(earns or 0), int(customers or 0)


async def test_csv_import_applies_all_rows(client: httpx.AsyncClient, ctx: AppContext, tmp_path: Path) -> None:
    t = await setup(ctx, customers=1)
    badge = await create_badge(client, t)
    path = tmp_path / "rows.csv"
    path.write_text(
        "badgeMetaId,customerId,earnEventDate,earnExpiresOn,email\n"
        f"{badge['id']},1,2026-01-01T00:00:00Z,2027-01-01T00:00:00Z,\n"
        f"{badge['id']},50,1767225600,,new@x.test\n"
        ",51,,,other@x.test\n"
    )
    ticks: list[int] = []
    result = await import_file(ctx, t.org_id, list(read_rows(path)), ticks.append)
    assert result.rejected == [] and result.earns == 2 and result.customers == 2 and len(ticks) == 3
    assert await _counts(ctx) == (2, 3)


async def test_jsonl_import_with_a_bad_row_applies_nothing(
    client: httpx.AsyncClient, ctx: AppContext, tmp_path: Path
) -> None:
    t = await setup(ctx, customers=1)
    badge = await create_badge(client, t)
    good = {"badgeMetaId": badge["id"], "customerId": 1, "earnEventDate": 1767225600}
    path = tmp_path / "rows.jsonl"
    lines = [good, {"badgeMetaId": "f" * 24, "customerId": 1, "earnEventDate": 1767225600},
             {"customerId": 60, "email": "n@x.test"}, {"badgeMetaId": badge["id"], "customerId": 77}]  # fmt: skip
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    result = await import_file(ctx, t.org_id, list(read_rows(path)))
    assert [n for n, _ in result.rejected] == [2, 4, 5]
    assert "not found" in result.rejected[0][1] and result.earns == 0
    assert await _counts(ctx) == (0, 1)
