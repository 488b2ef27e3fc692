"""Bad files are refused whole with every problem by JSON path; export → seed round-trips."""

from __future__ import annotations

from typing import Any

import pytest

from foureyes.core.context import AppContext
from foureyes.identity.models import Org
from foureyes.tenants.apply import TenantFileError, apply_tenant_file
from foureyes.tenants.export import export_org
from foureyes.workflows.repository import WorkflowRepository
from tests.integration.tenants.helpers import audit_count, demo, revision_count, small


async def _problems(ctx: AppContext, doc: Any) -> dict[str, str]:
    with pytest.raises(TenantFileError) as err:
        await apply_tenant_file(ctx, doc)
    return {p.path: p.message for p in err.value.problems}


async def test_every_problem_is_listed_and_nothing_is_applied(ctx: AppContext) -> None:
    bad = demo()
    org = bad["orgs"][0]
    org["users"][0]["permissions"].append({"name": "CanDoAnything", "unit": None})
    zone = org["units"][0]["children"][0]
    zone["children"].append({"kind": "till", "id": "77"})  # a till directly under a zone
    org["users"][2]["username"] = org["users"][1]["username"]
    org["badges"][1]["meta"]["customerConstraints"] = [{"constraintType": "CUSTOMER_BADGE_FIXED_VALUE"}]
    problems = await _problems(ctx, bad)
    assert set(problems) == {
        "orgs[0].users[0].permissions[1].name",
        "orgs[0].units[0].children[0].children[1].kind",
        "orgs[0].users[2].username",
        "orgs[0].badges[1].meta.customerConstraints[0].maxEarnLimit",
    }, problems
    assert "CanDoAnything" in problems["orgs[0].users[0].permissions[1].name"]
    assert "under a zone" in problems["orgs[0].units[0].children[0].children[1].kind"]
    async with ctx.db.read() as s:
        assert await s.get(Org, 1) is None
    assert await audit_count(ctx) == 0


async def test_structural_problems_have_paths(ctx: AppContext) -> None:
    bad = small()
    org = bad["orgs"][0]
    org["units"][0]["children"][0]["kind"] = "region"
    org["users"][0]["kind"] = "robot"
    org["customers"][0]["id"] = "not-a-number"
    org["surprise"] = True
    problems = await _problems(ctx, bad)
    assert {
        "orgs[0].units[0].children[0].kind",
        "orgs[0].users[0].kind",
        "orgs[0].customers[0].id",
        "orgs[0].surprise",
    } <= set(problems), problems
    assert await _problems(ctx, {"orgs": "nope"}) == {"orgs": "Input should be a valid list"}
    assert "$" in await _problems(ctx, ["not", "an", "object"])


async def test_whole_file_rules(ctx: AppContext) -> None:
    bad = small()
    org = bad["orgs"][0]
    org["units"][0]["children"][0]["id"] = "c1"  # same id as the concept
    org["units"].append({"kind": "store", "id": "s9"})  # a store at the top level
    org["clients"].append({"key": org["clients"][0]["key"], "secret": "x"})
    org["badges"][0]["claims"].append({"ownerType": "Journeys", "referenceId": "1"})
    org["workflows"]["NOT-A-TYPE"] = {}
    org["workflows"]["ISSUE-BADGE"] = {"allowedHosts": ["ftp://x"]}
    bad["orgs"].append(small()["orgs"][0])  # the same org id twice
    problems = await _problems(ctx, bad)
    for path in (
        "orgs[0].units[0].children[0].id",
        "orgs[0].units[1].kind",
        "orgs[0].clients[1].key",
        "orgs[0].badges[0].claims[1].ownerType",
        "orgs[0].workflows.NOT-A-TYPE",
        "orgs[0].workflows.ISSUE-BADGE.allowedHosts",
        "orgs[1].id",
    ):
        assert path in problems, (path, problems)


@pytest.mark.parametrize("source", ["demo", "small"])
async def test_export_then_seed_changes_nothing(ctx: AppContext, source: str) -> None:
    doc = demo() if source == "demo" else small()
    org_id = doc["orgs"][0]["id"]
    await apply_tenant_file(ctx, doc)
    exported = await export_org(ctx, org_id)
    text = str(exported)
    assert "password" not in text and "secret" not in text
    events, revisions = await audit_count(ctx), await revision_count(ctx)
    summary = await apply_tenant_file(ctx, exported)
    assert summary["counts"]["created"] == 0 and summary["counts"]["updated"] == 0, summary
    assert await audit_count(ctx) == events and await revision_count(ctx) == revisions
    assert await export_org(ctx, org_id) == exported
    if source == "small":
        async with ctx.db.read() as s:
            current = await WorkflowRepository(s).current_config(org_id, "EARN-BADGE")
        assert current is not None and current.config["webhooks"][0]["secret"].startswith("fx1:")


async def test_export_seeds_a_fresh_database_identically(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small())
    exported = await export_org(ctx, 7)
    # Move the tenant to another org id in the same database: every name must be new there.
    moved: dict[str, Any] = {"orgs": [dict(exported["orgs"][0], id=70)]}
    org = moved["orgs"][0]
    org["users"] = [dict(u, username=u["username"] + "-copy", password="pw") for u in org["users"]]
    org["clients"] = [dict(c, key=c["key"] + "-copy", secret="pw") for c in org["clients"]]
    org["badges"] = [{k: v for k, v in b.items() if k != "id"} for b in org["badges"]]
    await apply_tenant_file(ctx, moved)
    again = await export_org(ctx, 70)
    assert again["orgs"][0]["units"] == exported["orgs"][0]["units"]
    assert again["orgs"][0]["customers"] == exported["orgs"][0]["customers"]
    assert [b["meta"]["name"] for b in again["orgs"][0]["badges"]] == ["Plain"]
    assert again["orgs"][0]["badges"][0]["claims"] == exported["orgs"][0]["badges"][0]["claims"]
