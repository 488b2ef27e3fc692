"""HTTP routes of the console feature: server-rendered pages under /console (see docs/console.md)."""

from __future__ import annotations

from fastapi import APIRouter

from foureyes.console import pages_auth, pages_badges, pages_maker, pages_requests, pages_settings

router = APIRouter()
# pages_maker first: its /requests/new must win over pages_requests' /requests/{request_id}.
for _pages in (pages_auth, pages_maker, pages_requests, pages_settings, pages_badges):
    router.include_router(_pages.router)
