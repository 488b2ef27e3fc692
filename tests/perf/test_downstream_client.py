"""The downstream HTTP client does no import work per call (issue 7: no waste on the executor's hot path)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from httpcore._synchronization import current_async_library


class RecordingFinder:
    """A meta-path finder that only notes which modules Python looked for (the sign of a failed import)."""

    def __init__(self) -> None:
        self.looked_for: list[str] = []

    def find_spec(self, name: str, *_args: Any) -> None:
        self.looked_for.append(name)


async def test_httpcore_finds_sniffio_without_searching_sys_path_on_every_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpcore imports sniffio inside `current_async_library`, several times per request; when it is missing
    # each call is a failed import that scans sys.path (~43 us). It is a declared dependency for that reason.
    finder = RecordingFinder()
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    for _ in range(3):
        assert current_async_library() == "asyncio"
    assert finder.looked_for == []
