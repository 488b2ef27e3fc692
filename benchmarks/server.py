"""The benchmark's server process: the real app (with its in-process worker) plus one bare JSON route.

The bare route is mounted on this app instance only, so it shares the middleware, the event loop and the
process with the API: the ratio of the two is what the API's own work costs.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

from foureyes.app import create_app
from foureyes.core.settings import Settings
from foureyes.runtime import background_hooks

BARE_PATH = "/__bench/bare"


def factory() -> FastAPI:
    """The real app plus the bare route; each process of a multi-process run builds its own."""
    settings = Settings()
    app = create_app(settings, background=background_hooks(worker=os.environ.get("BENCH_WORKER", "1") == "1"))

    @app.post(BARE_PATH)
    async def bare(request: Request) -> dict[str, Any]:
        """Parse the JSON body and answer a small JSON object: the floor of any endpoint."""
        body = await request.json()
        return {"data": {"ok": True, "keys": len(body) if isinstance(body, dict) else 0}, "errors": [], "warnings": []}

    return app


def main() -> None:
    port = Settings().port
    processes = int(os.environ.get("BENCH_PROCESSES", "1"))
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "log_config": None, "access_log": False}
    if processes == 1:
        uvicorn.run(factory(), **options)
    else:  # as `foureyes serve --processes N` does
        uvicorn.run("benchmarks.server:factory", factory=True, workers=processes, **options)


if __name__ == "__main__":
    main()
