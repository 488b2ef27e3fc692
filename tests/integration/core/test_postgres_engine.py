"""The PostgreSQL engine: statements run often on a connection are prepared there, unless turned off."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from foureyes.core.database import PREPARE_AFTER, Database
from tests.conftest import STORES, base_settings

pytestmark = pytest.mark.skipif("postgresql" not in STORES, reason="PostgreSQL is not among the test stores")

COUNT = text("SELECT count(*) FROM workflow_requests WHERE org_id = :org")


@pytest.mark.parametrize("store", ["postgresql"])
@pytest.mark.parametrize("prepared", [True, False], ids=["default", "turned-off"])
async def test_a_statement_run_often_is_prepared_on_its_connection(
    tmp_path: Path, database_url: str, prepared: bool
) -> None:
    db = Database(base_settings(tmp_path, database_url, db_prepared_statements=prepared))
    try:
        async with db.read() as s:  # one connection for the whole block
            for _ in range(PREPARE_AFTER - 1):
                assert (await s.execute(COUNT, {"org": 1})).scalar_one() == 0
            before = await _prepared(s)
            for _ in range(2):
                await s.execute(COUNT, {"org": 1})
            after = await _prepared(s)
    finally:
        await db.dispose()
    assert not any("workflow_requests" in sql for sql in before)  # a statement run a few times is not prepared
    assert any("workflow_requests" in sql for sql in after) == prepared


async def _prepared(s: object) -> list[str]:
    rows = await s.execute(text("SELECT statement FROM pg_prepared_statements"))  # type: ignore[attr-defined]
    return [str(sql) for sql in rows.scalars()]
