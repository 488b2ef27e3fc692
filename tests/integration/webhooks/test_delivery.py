"""Outbox delivery against a real receiver on 127.0.0.1: signing, retries, leases, redirects, the loop."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from datetime import timedelta

from sqlalchemy import select

from foureyes.core.clock import FrozenClock
from foureyes.core.context import AppContext
from foureyes.webhooks.delivery import deliver_due, delivery_loop
from foureyes.webhooks.models import WebhookDelivery
from foureyes.webhooks.outbox import enqueue_event
from foureyes.webhooks.repository import WebhookRepository
from tests.factories import Tenant
from tests.integration.webhooks.receiver import Receiver

SECRET = "receiver-shared-secret"


async def enqueue(ctx: AppContext, url: str, *, secret: str | None = SECRET, count: int = 1) -> None:
    sealed = ctx.secret_box.seal(secret) if secret else None
    async with ctx.db.write() as s:
        for i in range(count):
            await enqueue_event(
                s,
                org_id=100,
                event_name="badgeEarned",
                payload={"data": {"customerId": 382477526, "n": i}},
                targets=[(url, sealed)],
            )


async def deliveries(ctx: AppContext) -> list[WebhookDelivery]:
    async with ctx.db.read() as s:
        return list(await s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def test_delivery_is_signed_over_the_raw_body(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, receiver.url)
    assert await deliver_due(ctx) == 1
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.method == "POST" and got.path == "/hook"
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-foureyes-signature"], expected)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-foureyes-event"] == "badgeEarned"
    [row] = await deliveries(ctx)
    assert got.headers["x-foureyes-delivery"] == str(row.id)
    body = json.loads(got.body)
    assert body["eventName"] == "badgeEarned" and body["orgId"] == 100
    assert body["data"] == {"customerId": 382477526, "n": 0}
    assert isinstance(body["eventId"], str) and isinstance(body["createdAt"], int)
    assert (row.status, row.attempts, row.last_status, row.lease_until) == ("delivered", 1, 200, None)
    assert await deliver_due(ctx) == 0
    assert len(receiver.requests) == 1


async def test_a_tampered_body_does_not_verify(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, receiver.url)
    await deliver_due(ctx)
    got = receiver.requests[0]
    forged = "sha256=" + hmac.new(SECRET.encode(), got.body + b" ", hashlib.sha256).hexdigest()
    assert got.headers["x-foureyes-signature"] != forged
    wrong_key = "sha256=" + hmac.new(b"other", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-foureyes-signature"] != wrong_key


async def test_500_then_200_is_retried_after_backoff(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.statuses.append(500)
    await enqueue(ctx, receiver.url)
    assert await deliver_due(ctx) == 1
    [row] = await deliveries(ctx)
    assert (row.status, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.next_attempt_at > clock.now()
    assert await deliver_due(ctx) == 0  # not due yet: backoff holds
    clock.advance(seconds=60)
    assert await deliver_due(ctx) == 1
    [row] = await deliveries(ctx)
    assert (row.status, row.attempts, row.last_status, row.last_error) == ("delivered", 2, 200, None)
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[0].headers["x-foureyes-delivery"] == receiver.requests[1].headers["x-foureyes-delivery"]


async def test_gives_up_after_max_attempts(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    ctx.settings.webhook_max_attempts = 3
    receiver.default_status = 503
    await enqueue(ctx, receiver.url)
    for _ in range(3):
        assert await deliver_due(ctx) == 1
        clock.advance(hours=2)
    [row] = await deliveries(ctx)
    assert (row.status, row.attempts, row.last_status) == ("failed", 3, 503)
    assert await deliver_due(ctx) == 0
    assert len(receiver.requests) == 3


async def test_expired_lease_is_delivered_exactly_once(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, receiver.url)
    # A worker claims the delivery and dies before sending anything.
    async with ctx.db.write() as s:
        lease = clock.now() + timedelta(seconds=ctx.settings.worker_lease_seconds)
        claimed = await WebhookRepository(s).claim_due(clock.now(), lease, 10)
    assert len(claimed) == 1
    assert await deliver_due(ctx) == 0  # still leased: nobody else takes it
    clock.advance(seconds=ctx.settings.worker_lease_seconds + 1)
    assert await deliver_due(ctx) == 1
    assert await deliver_due(ctx) == 0
    clock.advance(hours=2)
    assert await deliver_due(ctx) == 0
    assert len(receiver.requests) == 1
    [row] = await deliveries(ctx)
    assert (row.status, row.attempts) == ("delivered", 2)


async def test_concurrent_passes_never_send_twice(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, receiver.url, count=12)
    tried = await asyncio.gather(*(deliver_due(ctx, limit=4) for _ in range(4)))
    assert sum(tried) == 12
    assert len(receiver.requests) == 12
    assert len({r.headers["x-foureyes-delivery"] for r in receiver.requests}) == 12
    assert {d.status for d in await deliveries(ctx)} == {"delivered"}


async def test_redirects_are_not_followed(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.statuses.append(302)
    await enqueue(ctx, receiver.url)
    assert await deliver_due(ctx) == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    [row] = await deliveries(ctx)
    assert (row.status, row.last_status) == ("pending", 302)


async def test_unreachable_receiver_is_retried_later(ctx: AppContext, tenant: Tenant, clock: FrozenClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await enqueue(ctx, f"http://127.0.0.1:{port}/gone")
    assert await deliver_due(ctx) == 1
    [row] = await deliveries(ctx)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_status is None and row.last_error


async def test_hostile_stored_url_fails_without_a_request(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, f"http://user:pw@127.0.0.1:{receiver.port}/hook")
    await enqueue(ctx, "file:///etc/passwd")
    assert await deliver_due(ctx) == 2
    assert receiver.requests == []
    rows = await deliveries(ctx)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("refused URL" in (r.last_error or "") for r in rows)


async def test_unsigned_target_sends_no_signature(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    await enqueue(ctx, receiver.url, secret=None)
    assert await deliver_due(ctx) == 1
    assert "x-foureyes-signature" not in receiver.requests[0].headers


async def test_loop_delivers_and_stops_gracefully(ctx: AppContext, tenant: Tenant, receiver: Receiver) -> None:
    ctx.settings.worker_poll_seconds = 0.05
    stop = asyncio.Event()
    task = asyncio.create_task(delivery_loop(ctx, stop))
    await enqueue(ctx, receiver.url)
    for _ in range(200):
        if receiver.requests:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(receiver.requests) == 1
    assert [d.status for d in await deliveries(ctx)] == ["delivered"]


async def test_pending_delivery_survives_a_restart(
    ctx: AppContext, tenant: Tenant, receiver: Receiver, clock: FrozenClock
) -> None:
    receiver.statuses.append(500)
    await enqueue(ctx, receiver.url)
    assert await deliver_due(ctx) == 1  # fails once, stays pending
    await ctx.close()
    restarted = AppContext.build(ctx.settings, clock=FrozenClock(clock.now() + timedelta(hours=1)))
    try:
        assert await deliver_due(restarted) == 1
        rows = await deliveries(restarted)
    finally:
        await restarted.close()
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 2)]
    got = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-foureyes-signature"] == expected  # the secret still opens after the restart
