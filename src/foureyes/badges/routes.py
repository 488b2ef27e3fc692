"""HTTP routes of the badges feature: the sub-routers combined."""

from __future__ import annotations

from fastapi import APIRouter

from foureyes.badges import routes_catalog, routes_customer, routes_earn, routes_meta

router = APIRouter()
router.include_router(routes_meta.router)
router.include_router(routes_earn.router)
router.include_router(routes_customer.router)
router.include_router(routes_catalog.router)
