"""ASGI entry point for process managers: each process of `foureyes serve --processes N` builds its app here.

With more than one process uvicorn imports the app by name in each child, so the choices the parent made on its
command line travel in the environment: `FOUREYES_HOST`/`FOUREYES_PORT` (the settings every process reads) and
`FOUREYES_SERVE_WORKER` ("0" when `--no-worker` was given). Other process managers can use it too:
`uvicorn --factory foureyes.asgi:app_factory --workers 4`.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from foureyes.app import create_app
from foureyes.core.settings import Settings
from foureyes.runtime import background_hooks

SERVE_WORKER_ENV = "FOUREYES_SERVE_WORKER"


def app_factory() -> FastAPI:
    """The API and console from FOUREYES_* settings, with the in-process worker unless FOUREYES_SERVE_WORKER=0."""
    worker = os.environ.get(SERVE_WORKER_ENV, "1") != "0"
    return create_app(Settings(), background=background_hooks(worker=worker))
