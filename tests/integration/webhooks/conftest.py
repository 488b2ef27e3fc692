"""Fixtures for webhook tests: a real receiver, a movable clock, and an org."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from foureyes.core.clock import FrozenClock, utcnow
from foureyes.core.context import AppContext
from tests.factories import Tenant, make_tenant
from tests.integration.webhooks.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def clock(ctx: AppContext) -> FrozenClock:
    """The context's clock, frozen a few minutes ahead: events enqueued during the test (on the wall clock,
    however slow the machine) are due, and the test moves time explicitly."""
    frozen = FrozenClock(utcnow() + timedelta(minutes=5))
    ctx.clock = frozen
    return frozen


@pytest.fixture
async def tenant(ctx: AppContext) -> Tenant:
    t = await make_tenant(ctx, 100, second_store=False)
    await t.user("config", "CanConfigureWorkflows")
    await t.user("maker", "CanMakeRequest")
    return t
