"""HTTP routes of the console feature: server-rendered pages under /console (see docs/console.md)."""

from __future__ import annotations

from foureyes.console import pages_auth, pages_badges, pages_maker, pages_requests, pages_settings

# Included into the app one by one, in this order: pages_maker first, because its /requests/new must win over
# pages_requests' /requests/{request_id}.
routers = [_pages.router for _pages in (pages_auth, pages_maker, pages_requests, pages_settings, pages_badges)]
