"""Applying tenant files: ids in the summary, idempotence, updates, dry runs, one transaction."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from foureyes.core.context import AppContext
from foureyes.core.security import verify_secret
from foureyes.identity.models import Org, User
from foureyes.identity.repository import IdentityRepository
from foureyes.tenants.apply import TenantFileError, apply_tenant_file
from foureyes.tenants.export import export_org
from foureyes.workflows.repository import WorkflowRepository
from tests.integration.tenants.helpers import audit_count, demo, revision_count, small

SEED_AUTH = {"Authorization": "Basic YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ="}


async def test_demo_file_creates_everything_and_reports_ids(ctx: AppContext) -> None:
    summary = await apply_tenant_file(ctx, demo())
    org = summary["orgs"][0]
    assert org["id"] == 1 and org["status"] == "created"
    assert [u["id"] for u in org["units"]] == ["50678331", "50682286", "50682288", "50682289"]
    async with ctx.db.read() as s:
        users = {u.username: u for u in await IdentityRepository(s).list_users(1)}
    assert {u["username"]: u["userId"] for u in org["users"]} == {n: u.id for n, u in users.items()}
    assert all(isinstance(u["userId"], int) for u in org["users"])
    assert [c["id"] for c in org["customers"]] == [382477526, 382477527]
    assert [b["id"] for b in org["badges"]] == ["658c50761c4c2b12732c3ec6", "658c50761c4c2b12732c3ec7"]
    assert {w["requestType"]: w["revision"] for w in org["workflows"]} == {
        "EARN-BADGE": 1, "ISSUE-BADGE": 1, "CUSTOMER-STATUS-CHANGE": 1,
    }  # fmt: skip
    assert summary["counts"] == {"created": 18, "updated": 0, "unchanged": 0}


async def test_seed_page_authorization_works_after_seeding(ctx: AppContext, client: httpx.AsyncClient) -> None:
    await apply_tenant_file(ctx, demo())
    r = await client.get("/api_gateway/v1/badges/badgeMeta/658c50761c4c2b12732c3ec6", headers=SEED_AUTH)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["status"] == "LIVE" and data["active"] is True
    assert {"ownerType": "Goodwill_Module", "referenceId": "123", "isActive": True} in data["ownership"]["claims"]
    other = await client.get("/api_gateway/v1/badges/badgeMeta/658c50761c4c2b12732c3ec7", headers=SEED_AUTH)
    assert other.json()["data"]["customerConstraints"][0]["maxEarnLimit"] == 3


async def test_applying_twice_changes_nothing(ctx: AppContext) -> None:
    first = await apply_tenant_file(ctx, small())
    events, revisions = await audit_count(ctx), await revision_count(ctx)
    again = await apply_tenant_file(ctx, small())
    assert again["counts"]["created"] == 0 and again["counts"]["updated"] == 0
    assert again["counts"]["unchanged"] == first["counts"]["created"]
    assert await audit_count(ctx) == events
    assert await revision_count(ctx) == revisions
    # The customer without an id was matched by its email, not created twice.
    assert again["orgs"][0]["customers"][1]["id"] == first["orgs"][0]["customers"][1]["id"]


async def test_changed_password_permissions_and_config_are_updated_and_audited(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small())
    events = await audit_count(ctx)
    changed = small()
    org = changed["orgs"][0]
    org["users"][0]["password"] = "a-new-password"
    org["users"][1]["permissions"] = [{"name": "BadgesRead", "unit": None}, {"name": "BadgesWrite", "unit": "t1"}]
    org["workflows"]["earn-badge"]["autoApprove"] = True
    summary = await apply_tenant_file(ctx, changed)
    users = summary["orgs"][0]["users"]
    assert users[0]["status"] == "updated" and users[0]["changed"] == ["password"]
    assert users[1]["status"] == "updated" and users[1]["changed"] == ["permissions"]
    assert summary["orgs"][0]["workflows"] == [{"requestType": "EARN-BADGE", "revision": 2, "status": "updated"}]
    assert summary["counts"]["updated"] == 3
    async with ctx.db.read() as s:
        maker = await s.scalar(select(User).where(User.username == "maker7"))
        assert maker is not None and verify_secret("a-new-password", maker.password_hash)
        grants = await IdentityRepository(s).list_grants("user", users[1]["userId"])
        current = await WorkflowRepository(s).current_config(7, "EARN-BADGE")
    assert {(g.permission, g.unit_id) for g in grants} == {("BadgesRead", None), ("BadgesWrite", "t1")}
    assert current is not None and current.revision == 2 and current.config["autoApprove"] is True
    # The webhook secret was not in the change and is kept (sealed), not re-sealed into a new revision later.
    assert current.config["webhooks"][0]["secret"].startswith("fx1:")
    assert await audit_count(ctx) == events + 3


async def test_omitted_password_keeps_the_stored_one(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small())
    without = small()
    del without["orgs"][0]["users"][0]["password"]
    del without["orgs"][0]["clients"][0]["secret"]
    summary = await apply_tenant_file(ctx, without)
    assert summary["counts"]["updated"] == 0
    async with ctx.db.read() as s:
        maker = await s.scalar(select(User).where(User.username == "maker7"))
    assert maker is not None and verify_secret("pw-maker", maker.password_hash)


async def test_dry_run_reports_without_writing(ctx: AppContext) -> None:
    summary = await apply_tenant_file(ctx, small(), dry_run=True)
    assert summary["dryRun"] is True and summary["counts"]["created"] > 0
    assert all(u["userId"] is None for u in summary["orgs"][0]["users"])
    async with ctx.db.read() as s:
        assert await s.get(Org, 7) is None
    assert await audit_count(ctx) == 0
    await apply_tenant_file(ctx, small())
    changed = small()
    changed["orgs"][0]["name"] = "Renamed"
    preview = await apply_tenant_file(ctx, changed, dry_run=True)
    assert preview["orgs"][0]["status"] == "updated" and preview["counts"]["updated"] == 1
    async with ctx.db.read() as s:
        org = await s.get(Org, 7)
    assert org is not None and org.name == "Small"


async def test_a_problem_found_while_applying_rolls_everything_back(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small(7))
    clash = small(8)
    clash["orgs"][0]["users"][0]["username"] = "maker7"  # belongs to org 7
    with pytest.raises(TenantFileError) as err:
        await apply_tenant_file(ctx, clash)
    assert [p.path for p in err.value.problems] == ["orgs[0].users[0].username"]
    async with ctx.db.read() as s:
        assert await s.get(Org, 8) is None  # created earlier in the same transaction, rolled back


async def test_moving_a_unit_is_refused(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small())
    moved = small()
    store = moved["orgs"][0]["units"][0]["children"][0]["children"][0]
    moved["orgs"][0]["units"][0]["children"].append({"kind": "zone", "id": "z2", "children": [store]})
    moved["orgs"][0]["units"][0]["children"][0]["children"] = []
    with pytest.raises(TenantFileError) as err:
        await apply_tenant_file(ctx, moved)
    assert [p.path for p in err.value.problems] == ["orgs[0].units[0].children[1].children[0]"]


async def test_grant_units_may_come_from_the_database_but_must_exist(ctx: AppContext) -> None:
    await apply_tenant_file(ctx, small())
    later = small()
    org = later["orgs"][0]
    org["units"] = []  # the units exist already; a grant may still name them
    org["users"][0]["permissions"] = [{"name": "CanMakeRequest", "unit": "t1"}]
    summary = await apply_tenant_file(ctx, later)
    assert summary["orgs"][0]["users"][0]["changed"] == ["permissions"]
    org["users"][0]["permissions"] = [{"name": "CanMakeRequest", "unit": "nowhere"}]
    with pytest.raises(TenantFileError) as err:
        await apply_tenant_file(ctx, later)
    assert [p.path for p in err.value.problems] == ["orgs[0].users[0].permissions[0].unit"]


async def test_assigned_customer_ids_never_take_an_explicit_id_named_later(ctx: AppContext) -> None:
    doc = small()
    doc["orgs"][0]["customers"] = [
        {"id": 500, "email": "a@x.test"},
        {"email": "b@x.test"},  # would get 501 if it were applied in file order
        {"id": 501, "email": "c@x.test"},
    ]
    summary = await apply_tenant_file(ctx, doc)
    ids = [c["id"] for c in summary["orgs"][0]["customers"]]
    assert ids == [500, 502, 501]
    exported = await export_org(ctx, 7)
    assert {c["id"]: c["email"] for c in exported["orgs"][0]["customers"]} == {
        500: "a@x.test", 501: "c@x.test", 502: "b@x.test",
    }  # fmt: skip
