"""What `make run` prints before serving: where to click, who to log in as, and one curl walk-through.

The walk-through is data (`walkthrough()`), rendered here as shell and replayed over HTTP by the tests,
so the commands a newcomer copies are the ones CI has run.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from foureyes.core.settings import Settings

ORG_HEADER = "X-CAP-API-AUTH-ORG-ID"
MAKER, CHECKER, TILL = "maker@demo.test", "checker@demo.test", "ab124"
CUSTOMER_ID = 382477526
BADGE_ID = "658c50761c4c2b12732c3ec6"
SEED_REQUEST_ID = "0f932928-9878-441c-a78e-c1d32235534q"
# The documented example of the seed page (shared/seeds), unchanged: its hostname is routed to this server.
SEED_EARN_BODY: dict[str, Any] = {
    "entityInfo": {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331"},
    "payload": {
        "IntouchAPITask-Payload": {
            "hostname": "https://crm-nightly-new.cc.capillarytech.com",
            "path": "/api_gateway/v1/badges/customer/earn",
            "method": "POST",
            "pathParams": {},
            "body": {
                "triggeredBy": {"ownerType": "Goodwill_Module", "referenceId": "123"},
                "customerId": CUSTOMER_ID,
                "requestId": SEED_REQUEST_ID,
                "badgeMetaId": BADGE_ID,
            },
            "headers": {
                "Authorization": "Basic YWIxMjQ6MjVkNTVhZDI4M2FhNDAwYWY0NjRjNzZkNzEzYzA3YWQ=",
                "content-type": "application/json",
            },
        }
    },
}


@dataclass(frozen=True)
class Step:
    """One HTTP call; `basic` is (user, password); `token` names a variable set by an earlier step."""

    title: str
    method: str
    path: str
    basic: tuple[str, str] | None = None
    token: str | None = None
    body: dict[str, Any] | None = None
    org_header: bool = False
    capture: tuple[str, str] | None = None  # (shell variable, dotted path in the JSON answer)
    body_vars: dict[str, str] = field(default_factory=dict)  # body key → shell variable


def demo_tenant() -> dict[str, Any]:
    text = resources.files("foureyes.demo").joinpath("demo-tenant.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def passwords() -> dict[str, str]:
    return {u["username"]: u["password"] for u in demo_tenant()["orgs"][0]["users"]}


def walkthrough() -> list[Step]:
    pw = passwords()
    decision = {
        "requestId": "$REQUEST_ID",
        "actionName": "AdminTask",
        "payload": {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "Looks right"}},
    }
    return [
        Step("UI token for the maker", "POST", "/api_gateway/v2/auth/ui-token", basic=(MAKER, pw[MAKER]),
             capture=("MAKER_TOKEN", "data.accessToken")),
        Step("The seed page's EARN-BADGE request, as the maker", "POST", "/api_gateway/v2/request-workflow/EARN-BADGE",
             token="MAKER_TOKEN", body=SEED_EARN_BODY, org_header=True, capture=("REQUEST_ID", "data.requestId")),
        Step("UI token for a checker", "POST", "/api_gateway/v2/auth/ui-token", basic=(CHECKER, pw[CHECKER]),
             capture=("CHECKER_TOKEN", "data.accessToken")),
        Step("Approve it as the checker: answers `approved` once the badge is earned", "PUT",
             "/api_gateway/v2/request-workflow/EARN-BADGE", token="CHECKER_TOKEN", body=decision, org_header=True,
             body_vars={"requestId": "REQUEST_ID"}),
        Step("The badges the customer has earned, as the till user", "GET",
             f"/api_gateway/v1/badges/customer/{CUSTOMER_ID}?badgeType=EARNED", basic=(TILL, pw[TILL])),
    ]  # fmt: skip


def _pick(path: str) -> str:
    keys = "".join(f"[{json.dumps(k)}]" for k in path.split("."))
    return f"python3 -c 'import json,sys; print(json.load(sys.stdin){keys})'"


def as_shell(steps: list[Step], base_url: str) -> str:
    lines = [f"BASE={shlex.quote(base_url)}"]
    for step in steps:
        parts = ["curl -s", "-X", step.method, f'"$BASE{step.path}"']
        if step.basic:
            parts += ["-u", shlex.quote(f"{step.basic[0]}:{step.basic[1]}")]
        if step.org_header:
            parts += ["-H", shlex.quote(f"{ORG_HEADER}: 1")]
        if step.token:
            parts += ["-H", f'"X-CAP-UI-AUTH-TOKEN: ${step.token}"']
        if step.body is not None:
            parts += ["-H", "'Content-Type: application/json'"]
            text = json.dumps(step.body, separators=(",", ":"))
            if step.body_vars:
                # Close the single quotes around the variable so the shell substitutes it.
                for var in step.body_vars.values():
                    text = text.replace(f"${var}", f"'\"${var}\"'")
            parts += ["-d", f"'{text}'"]
        command = " ".join(parts)
        lines.append(f"# {step.title}")
        if step.capture:
            lines.append(f"{step.capture[0]}=$({command} | {_pick(step.capture[1])})")
        else:
            lines.append(f"{command}; echo")
    return "\n".join(lines)


def render(settings: Settings) -> str:
    base = settings.own_base_url.rstrip("/")
    users = demo_tenant()["orgs"][0]["users"]
    width = max(len(u["username"]) for u in users)
    who = "\n".join(
        f"  {u['username']:<{width}}  {u['password']:<24} {', '.join(p['name'] for p in u['permissions'])}"
        for u in users
    )
    return f"""
foureyes is starting with the demo org (id 1).

  Console   {base}/console/
  API docs  {base}/docs

Demo users (org 1):
{who}

Try the maker-checker flow from the seed page (paste into another terminal once the server is up).
The body's requestId is the badge's idempotency key: to run it again, change it, or the request is refused (809).

{as_shell(walkthrough(), base)}
"""


def main() -> None:
    sys.stdout.write(render(Settings()))


if __name__ == "__main__":
    main()
