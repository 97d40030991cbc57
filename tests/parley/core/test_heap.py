"""Tending the long-running processes' heap: what survives is frozen out of the collector's
walk, and every full period all of it is collected once (a fake clock: no waiting)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from parley.core import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


class Seconds:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_what_survives_a_turn_is_frozen_until_the_full_turn_collects_it() -> None:
    seconds = Seconds()
    tender = heap.Tender(full_seconds=600, now=seconds)
    node = Node()
    alive = weakref.ref(node)

    assert tender.tend() == "young"
    assert gc.get_freeze_count() > 0
    # Out of the collector's sight: once garbage, a collection does not free it.
    del node
    gc.collect()
    assert alive() is not None

    seconds.at += 599
    assert tender.tend() == "young"
    assert alive() is not None

    seconds.at += 1
    assert tender.tend() == "full"
    assert alive() is None
    assert gc.get_freeze_count() > 0  # what survived the full turn is frozen again


def test_garbage_made_between_turns_is_collected_at_the_next_turn() -> None:
    tender = heap.Tender(full_seconds=600, now=Seconds())
    tender.tend()
    node = Node()
    alive = weakref.ref(node)
    del node
    assert tender.tend() == "young"
    assert alive() is None


def test_no_thread_when_tending_is_off() -> None:
    assert heap.start(freeze_seconds=0, full_seconds=600) is False


def test_the_web_servers_lifespan_answers_startup_and_shutdown(settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "HEAP_FREEZE_SECONDS": 0}
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(heap.lifespan({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
