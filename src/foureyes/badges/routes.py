"""HTTP routes of the badges feature: the sub-routers, in the order the app includes them."""

from __future__ import annotations

from foureyes.badges import routes_catalog, routes_customer, routes_earn, routes_meta

# Each is included into the app directly (not through one combining router): FastAPI matches a request by
# walking included routers in order, twice per nesting level, so the hot earn route comes first and one level
# deep. No two of these routers can both fully match one request, so their order changes nothing else.
routers = [routes_earn.router, routes_meta.router, routes_customer.router, routes_catalog.router]
