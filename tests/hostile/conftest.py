from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.live import Live, start


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    server = start()
    yield server
    server.stop()
