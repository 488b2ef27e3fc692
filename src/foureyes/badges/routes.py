"""HTTP routes of the badges feature: the sub-routers combined."""

from __future__ import annotations

from fastapi import APIRouter

from foureyes.badges import routes_earn, routes_meta

router = APIRouter()
router.include_router(routes_meta.router)
router.include_router(routes_earn.router)
