"""Mixed maker/checker workload for locust (loopback only): create, approve, list and get EARN-BADGE requests.

Run through `python -m benchmarks.load` (which seeds a scratch store, starts the server and keeps the report),
or by hand against a prepared server: `locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000` with
BENCH_BADGE_ID set to a live badge routed for EARN-BADGE (see benchmarks/common.py).
"""

from __future__ import annotations

import os
import random
import uuid
from collections import deque

from locust import HttpUser, between, task

from benchmarks.common import WF, approve_body, earn_badge_body, headers

BADGE = os.environ.get("BENCH_BADGE_ID", "")
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
# Requests raised and not yet decided, shared by every simulated user of this locust process: each is
# approved by exactly one checker (popleft is atomic under gevent), so no approval races into a 409.
PENDING: deque[str] = deque()
SEEN: deque[str] = deque(maxlen=2000)


class MakerChecker(HttpUser):
    """One desk: raises requests, approves others' requests, browses the inbox and opens requests."""

    wait_time = between(0.05, 0.25)

    @task(3)
    def create(self) -> None:
        body = earn_badge_body(BADGE, random.randint(1, CUSTOMERS), f"load-{uuid.uuid4().hex}")
        with self.client.post(f"{WF}/EARN-BADGE", json=body, headers=headers("maker"), name="create",
                              catch_response=True) as r:  # fmt: skip
            if r.status_code != 200 or r.json()["data"]["state"] != "AdminTask":
                r.failure(f"create: {r.status_code} {r.text[:200]}")
                return
            request_id = r.json()["data"]["requestId"]
            PENDING.append(request_id)
            SEEN.append(request_id)

    @task(3)
    def approve(self) -> None:
        try:
            request_id = PENDING.popleft()
        except IndexError:
            return
        with self.client.put(f"{WF}/EARN-BADGE", json=approve_body(request_id), headers=headers("checker"),
                             name="approve", catch_response=True) as r:  # fmt: skip
            state = r.json()["data"]["state"] if r.status_code == 200 else None
            if state not in ("approved", "IntouchAPITask"):
                r.failure(f"approve: {r.status_code} {r.text[:200]}")

    @task(2)
    def list_inbox(self) -> None:
        params = {"State": random.choice(["AdminTask", "approved"]), "Limit": 20, "PageNo": 0}
        with self.client.get(f"{WF}/requests", params=params, headers=headers("checker"), name="list",
                             catch_response=True) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"list: {r.status_code} {r.text[:200]}")

    @task(2)
    def get_one(self) -> None:
        if not SEEN:
            return
        request_id = random.choice(SEEN)
        with self.client.get(f"{WF}/requests/{request_id}", headers=headers("maker"), name="get",
                             catch_response=True) as r:  # fmt: skip
            if r.status_code != 200:
                r.failure(f"get: {r.status_code} {r.text[:200]}")
