"""The tenant the cluster runs: one org whose EARN-BADGE requests are executed against our own badges API."""

from __future__ import annotations

from typing import Any

ORG = 7001
HOST = "https://crm-nightly-new.cc.capillarytech.com"
BADGE = "658c50761c4c2b12732c3ec6"
CUSTOMERS = list(range(5001, 5011))
MAKER, CHECKER, TILL = (
    ("maker@cluster.test", "maker-pass-1"),
    ("checker@cluster.test", "checker-pass-1"),
    (
        "till1",
        "till-pass-1",
    ),
)
UNITS = ("50678331", "50682286", "50682288", "50682289")


def tenant_file(badges_base: str) -> dict[str, Any]:
    """Seed file: units, a maker, a checker, a till user that may earn badges, customers, one badge, config."""
    concept, zone, store, till = UNITS
    perms = lambda *names: [{"name": n, "unit": None} for n in names]  # noqa: E731
    return {
        "orgs": [
            {
                "id": ORG,
                "name": "Cluster Retail",
                "units": [
                    {"kind": "concept", "id": concept, "name": "C", "children": [
                        {"kind": "zone", "id": zone, "name": "Z", "children": [
                            {"kind": "store", "id": store, "name": "S", "children": [
                                {"kind": "till", "id": till, "name": "T"}]}]}]}
                ],
                "users": [
                    {"username": MAKER[0], "password": MAKER[1], "kind": "intouch",
                     "permissions": perms("CanMakeRequest")},
                    {"username": CHECKER[0], "password": CHECKER[1], "kind": "intouch",
                     "permissions": perms("CanCheckRequest")},
                    {"username": TILL[0], "password": TILL[1], "kind": "till",
                     "permissions": perms("BadgesRead", "BadgesWrite")},
                ],
                "customers": [{"id": c, "mobile": f"9199990{c}", "email": f"c{c}@cluster.test"} for c in CUSTOMERS],
                "badges": [
                    {"id": BADGE,
                     "meta": {"name": "Cluster star", "description": "earned through the workflow",
                              "startOn": "2024-01-01T00:00:00Z", "expiresOn": "2099-12-31T00:00:00Z",
                              "earnType": "EARN", "active": True, "earnedBadgeExpiry": {"expiryType": "NEVER"},
                              "ownership": {"restrictedToOwners": ["Goodwill_Module"]},
                              "customerConstraints": [], "badgeConstraints": []},
                     "claims": [{"ownerType": "Goodwill_Module", "referenceId": "123"}]}
                ],
                "workflows": {"EARN-BADGE": {"allowedHosts": [HOST], "hostRoutes": {HOST: badges_base}}},
            }
        ]
    }  # fmt: skip


def earn_request(request_id: str, customer: int, till_auth: str) -> dict[str, Any]:
    concept, zone, store, till = UNITS
    return {
        "entityInfo": {"tillId": till, "storeId": store, "zoneId": zone, "conceptId": concept},
        "payload": {
            "IntouchAPITask-Payload": {
                "hostname": HOST,
                "path": "/api_gateway/v1/badges/customer/earn",
                "method": "POST",
                "pathParams": {},
                "body": {
                    "triggeredBy": {"ownerType": "Goodwill_Module", "referenceId": "123"},
                    "customerId": customer,
                    "requestId": request_id,
                    "badgeMetaId": BADGE,
                },
                "headers": {"Authorization": till_auth, "content-type": "application/json"},
            }
        },
    }


def decision(request_id: str) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "actionName": "AdminTask",
        "payload": {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "ok"}},
    }
