"""create_app(settings): the one ASGI application — API, console and operations endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from foureyes import __version__
from foureyes.core.clock import Clock
from foureyes.core.context import AppContext
from foureyes.core.handlers import install_handlers
from foureyes.core.logging import configure_logging
from foureyes.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from foureyes.core.settings import Settings
from foureyes.identity.routes import router as identity_router
from foureyes.ops.routes import router as ops_router

Hook = Callable[[AppContext], Any]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    ctx: AppContext | None = None,
    background: Sequence[Hook] = (),
) -> FastAPI:
    """Build the app from explicit settings; `background` hooks start long-running tasks (the worker)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    context = ctx or AppContext.build(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stoppers = []
        for hook in background:
            stoppers.append(await hook(context))
        try:
            yield
        finally:
            for stop in reversed(stoppers):
                if stop is not None:
                    await stop()
            await context.close()

    app = FastAPI(
        title="foureyes",
        version=__version__,
        description="Maker-checker request workflow (v2) and badges service, wire-compatible with the "
        "publicly documented API.",
        lifespan=lifespan,
    )
    app.state.ctx = context
    install_handlers(app)
    for router in _routers_by_traffic():
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=context.metrics)
    return app


def _routers_by_traffic() -> list[APIRouter]:
    """Every router, the busiest first: FastAPI finds a request's route by walking the included routers in
    order (docs/decisions.md), so the request workflow and the badge earn its executor calls come first.

    The order changes nothing but the walk: routes of different features never both fully match one request,
    and each feature's routers keep their own order (the console's /requests/new before /requests/{request_id}).
    """
    from foureyes.badges.routes import routers as badges
    from foureyes.console.routes import routers as console
    from foureyes.customers.routes import router as customers
    from foureyes.webhooks.routes import router as webhooks
    from foureyes.workflows.routes import router as workflows

    return [workflows, *badges, ops_router, identity_router, customers, webhooks, *console]
