"""The heap freeze: a server's start-up objects leave the collector's generations (core/heap.py, runtime.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from foureyes.core.heap import freeze_startup_objects
from foureyes.runtime import background_hooks, freeze_heap, start_worker


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the test process its objects back to the collector afterwards."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_freeze_takes_living_objects_out_of_full_collections(unfrozen: None) -> None:
    survivor = {"kept": [object() for _ in range(1000)]}
    tracked_before = len(gc.get_objects())

    frozen = freeze_startup_objects()

    assert frozen == gc.get_freeze_count() >= tracked_before // 2
    # A full collection walks the generations; what was alive at the freeze is in none of them any more.
    assert len(gc.get_objects()) < tracked_before // 10
    assert not any(obj is survivor for obj in gc.get_objects(generation=2))


def test_garbage_made_after_the_freeze_is_still_collected(unfrozen: None) -> None:
    freeze_startup_objects()
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


@pytest.mark.parametrize("worker", [True, False])
def test_every_server_process_freezes_after_its_other_start_up_hooks(worker: bool) -> None:
    hooks = background_hooks(worker=worker)
    assert hooks[-1] is freeze_heap
    assert (start_worker in hooks) is worker


async def test_the_freeze_hook_freezes(unfrozen: None) -> None:
    assert gc.get_freeze_count() == 0
    assert await freeze_heap(None) is None  # type: ignore[arg-type]  # the hook ignores the context
    assert gc.get_freeze_count() > 0
