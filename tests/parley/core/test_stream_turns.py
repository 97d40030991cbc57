"""The workers take turns at the shared consumers: a run woken while another worker has the
turn leaves it a note and returns at once (its worker stays free for other tasks); the
holder reads the note when its turn ends and goes round again, so nothing woken for waits
for the sweep. Without Redis every run runs (the consumers' row locks keep them apart)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.publish import publish
from parley.core.stream import wake
from parley.core.stream.consumers import Consumer, Delivery, register, registered, unregister
from parley.core.stream.runner import run_consumers
from parley.core.tasks import run_stream

pytestmark = pytest.mark.django_db


class Seen:
    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self, items: list[Delivery]) -> None:
        self.ids.extend(item.stream_id for item in items)


@pytest.fixture
def seen() -> Iterator[Seen]:
    handler = Seen()
    register(Consumer("turn-probe", handler, None))
    wake.take_runner_note(_names())  # nothing left over from another test
    try:
        yield handler
    finally:
        unregister("turn-probe")


def _names() -> list[str]:
    """The consumers a worker's run runs (its turns are theirs)."""
    return sorted(n for n, c in registered().items() if not c.dedicated)


def _worker_run() -> bool:
    """A worker's run of the stream (the task, run here)."""
    return bool(run_stream.apply().get())


def _event() -> int:
    return publish(StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(), change="x"))


def test_a_run_woken_during_another_workers_turn_leaves_a_note(seen: Seen) -> None:
    first = _event()
    with wake.runner_turn(_names()) as turn:  # another worker's turn
        assert turn is not None
        assert _worker_run() is True
        assert seen.ids == []  # returned at once, ran nothing
        # Called directly (not a worker's task), a run runs whatever the workers do.
        assert run_consumers(max_seconds=30, shared_only=True) is True
        assert first in seen.ids
    # The holder reads the note once its turn ends, and goes round again.
    assert wake.take_runner_note(_names()) is True
    assert wake.take_runner_note(_names()) is False
    second = _event()
    assert _worker_run() is True
    assert second in seen.ids


def test_a_run_goes_round_again_for_a_note_left_during_its_turn(seen: Seen) -> None:
    first = _event()

    class WokenMeanwhile(Seen):
        def __call__(self, items: list[Delivery]) -> None:
            super().__call__(items)
            if len(self.ids) == len(items):
                # Another worker is woken while this one runs: it leaves a note.
                with wake.runner_turn(_names()) as turn:
                    assert turn is None

    probe = WokenMeanwhile()
    register(Consumer("turn-probe-2", probe, None))
    names = _names()
    try:
        assert _worker_run() is True
    finally:
        unregister("turn-probe-2")
    assert first in probe.ids and first in seen.ids
    # The note was read (a second turn ran), and the turn is free again.
    assert wake.take_runner_note(names) is False
    with wake.runner_turn(names) as turn:
        assert turn is not None


def test_without_redis_every_run_runs(seen: Seen, settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket closes
    first = _event()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    assert _worker_run() is True
    assert first in seen.ids
