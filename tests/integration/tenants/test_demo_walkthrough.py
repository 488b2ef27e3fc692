"""The banner's curl walk-through, replayed over HTTP against a live `make run`-style server."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx

from foureyes.core.settings import Settings
from foureyes.demo.banner import BADGE_ID, Step, demo_tenant, walkthrough
from tests.integration.tenants.proc import command_env, free_port, run, serving

SEED_HOST = "https://crm-nightly-new.cc.capillarytech.com"


def _dig(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        data = data[key]
    return data


def _demo_routed_to(port: int) -> dict[str, Any]:
    """The demo file with the seed hostname routed to the test server's port instead of 8000."""
    doc = copy.deepcopy(demo_tenant())
    for config in doc["orgs"][0]["workflows"].values():
        config["hostRoutes"] = {SEED_HOST: f"http://127.0.0.1:{port}"}
        config["allowedHosts"] = [SEED_HOST, f"http://127.0.0.1:{port}"]
    return doc


def _call(client: httpx.Client, step: Step, variables: dict[str, str]) -> httpx.Response:
    headers: dict[str, str] = {}
    if step.org_header:
        headers["X-CAP-API-AUTH-ORG-ID"] = "1"
    if step.token:
        headers["X-CAP-UI-AUTH-TOKEN"] = variables[step.token]
    body = copy.deepcopy(step.body)
    if body is not None:
        for key, var in step.body_vars.items():
            body[key] = variables[var]
    return client.request(step.method, step.path, headers=headers, json=body, auth=step.basic)


def _wait_done(client: httpx.Client, variables: dict[str, str]) -> httpx.Response:
    headers = {"X-CAP-API-AUTH-ORG-ID": "1", "X-CAP-UI-AUTH-TOKEN": variables["CHECKER_TOKEN"]}
    path = f"/api_gateway/v2/request-workflow/requests/{variables['REQUEST_ID']}"
    deadline = time.monotonic() + 60
    while True:
        r = client.get(path, headers=headers)
        if r.json()["data"]["state"] != "IntouchAPITask" or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_banner_walkthrough_earns_the_badge(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = command_env(settings, FOUREYES_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    assert run(env, "db", "upgrade").returncode == 0
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps(_demo_routed_to(port)))
    seeded = run(env, "seed", str(demo))
    assert seeded.returncode == 0, seeded.stderr
    variables: dict[str, str] = {}
    with serving(env, port, log=tmp_path / "serve.log") as base, httpx.Client(base_url=base, timeout=30) as client:
        answers = []
        steps = walkthrough()
        for i, step in enumerate(steps):
            if i == 3:
                # Before the approval the customer has not earned it: the last step must show a change.
                before = _call(client, steps[-1], variables).json()["data"]["badges"]
                assert BADGE_ID not in [b["badgeMetaId"] for b in before], before
            r = _call(client, step, variables)
            assert r.status_code == 200, (step.title, r.status_code, r.text)
            if i == 3 and r.json()["data"]["state"] == "IntouchAPITask":
                # The PUT waits a bounded time for the downstream call; on a loaded machine it may still run.
                r = _wait_done(client, variables)
            answers.append(r.json())
            if step.capture:
                variables[step.capture[0]] = str(_dig(r.json(), step.capture[1]))
    created, decided, badges = answers[1]["data"], answers[3]["data"], answers[4]["data"]
    assert created["state"] == "AdminTask"
    assert decided["state"] == "approved", json.dumps(decided)
    assert BADGE_ID in [b["badgeMetaId"] for b in badges["badges"]], badges
