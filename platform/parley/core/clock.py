"""The injected clock. Every time-dependent rule reads `clock.now()`, never the wall clock,
so tests move time instead of sleeping."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Clock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FrozenClock(Clock):
    """A clock that stands still until moved."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, **delta: float) -> dt.datetime:
        self._at = self._at + dt.timedelta(**delta)
        return self._at

    def set(self, at: dt.datetime) -> None:
        self._at = at


_lock = threading.Lock()
_current: Clock = Clock()


def now() -> dt.datetime:
    return _current.now()


def install(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one."""
    global _current
    with _lock:
        previous, _current = _current, clock
    return previous


@contextmanager
def frozen(at: dt.datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(at)
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)
