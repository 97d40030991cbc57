"""The injected clock. Every time-dependent rule reads `clock.now()`, never the wall clock,
so tests move time instead of sleeping.

Live processes (web, workers, beat, the handset fleet) read the installation's one
simulation clock, stored in the database (`SimulationClock`): real time plus a shared offset,
or a frozen instant. Each process keeps the clock's state in memory, so `now()` costs about
a microsecond; the state is re-read when an administrator moves the clock (a Redis pub/sub
message every process listens for) and at the latest every `CLOCK_CACHE_SECONDS`, in case a
message was missed while Redis was away.

The module-level `install()` / `frozen()` swap is for pure unit tests: the pytest process
keeps a local real-time clock that tests freeze and move; it never reads the shared one
unless a test asks for it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


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


@dataclasses.dataclass(frozen=True)
class ClockState:
    """The shared clock as stored: an offset from real time, or a frozen instant."""

    offset: dt.timedelta = dt.timedelta(0)
    frozen_at: dt.datetime | None = None
    version: int = 0
    changed_at: dt.datetime | None = None
    changed_by: str = ""

    def at(self, real: dt.datetime) -> dt.datetime:
        """Simulated time when real time is `real`."""
        return self.frozen_at if self.frozen_at is not None else real + self.offset

    @property
    def follows_real_time(self) -> bool:
        return self.frozen_at is None and not self.offset


REAL_TIME = ClockState()


def channel() -> str:
    """The Redis channel on which moves of the clock are announced."""
    from django.conf import settings

    return f"{settings.NAMESPACE}:clock"


def read_state() -> ClockState:
    """The stored state (real time when no row exists yet)."""
    from django.db import connection, transaction

    from parley.core.models import SimulationClock

    if connection.in_atomic_block:
        # A savepoint: a failed read (table not migrated yet) must not abort the caller's
        # transaction on PostgreSQL.
        with transaction.atomic():
            row = SimulationClock.objects.filter(pk=1).first()
    else:
        row = SimulationClock.objects.filter(pk=1).first()
    if row is None:
        return REAL_TIME
    return ClockState(
        offset=dt.timedelta(microseconds=row.offset_us),
        frozen_at=row.frozen_at,
        version=row.version,
        changed_at=row.changed_at,
        changed_by=row.changed_by,
    )


def _read_state_off_loop() -> ClockState:
    """`read_state()`, from a short-lived thread when called on an event loop (the ORM
    refuses to run there); that thread closes its own connection."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return read_state()

    def read() -> ClockState:
        from django.db import connections

        try:
            return read_state()
        finally:
            connections.close_all()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(read).result()


class SharedClock(Clock):
    """The installation's clock as this process sees it (see the module docstring)."""

    def __init__(self, *, max_age: float | None = None, listen: bool = True) -> None:
        self._state: ClockState | None = None
        self._fresh_until = 0.0
        self._max_age = max_age
        self._listen = listen
        self._pid = 0
        self._generation = 0  # bumped by every invalidation
        self._lock = threading.Lock()

    @property
    def max_age(self) -> float:
        if self._max_age is None:
            from django.conf import settings

            self._max_age = float(settings.PARLEY["CLOCK_CACHE_SECONDS"])
        return self._max_age

    def now(self) -> dt.datetime:
        state = self._state
        if state is None or time.monotonic() >= self._fresh_until or self._pid != os.getpid():
            state = self.refresh()
        return state.at(dt.datetime.now(dt.UTC))

    def state(self) -> ClockState:
        self.now()
        assert self._state is not None
        return self._state

    def refresh(self) -> ClockState:
        """Read the stored state now. A database that cannot answer (not migrated yet, or
        down) means real time until the next attempt."""
        if self._pid != os.getpid():
            self._pid = os.getpid()  # a forked worker child starts its own listener
            if self._listen:
                threading.Thread(target=self._listen_forever, name="clock", daemon=True).start()
        generation = self._generation
        try:
            state = _read_state_off_loop()
        except Exception as exc:  # an unreadable clock must not stop the caller
            log.warning("simulation clock unreadable, using real time: %s", exc)
            state = self._state or REAL_TIME
        with self._lock:
            self._state = state
            # A move announced while we were reading makes the next `now()` read again.
            if generation == self._generation:
                self._fresh_until = time.monotonic() + self.max_age
        return state

    def invalidate(self) -> None:
        """Re-read the stored state on the next `now()`."""
        with self._lock:
            self._generation += 1
            self._fresh_until = 0.0

    def _listen_forever(self) -> None:
        import redis
        from django.conf import settings

        while True:
            try:
                client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel())
                self.invalidate()  # anything announced while we were not listening
                for _message in pubsub.listen():
                    self.invalidate()
            except Exception as exc:  # Redis away: the age limit still bounds staleness
                log.debug("clock listener reconnecting: %s", exc)
                time.sleep(1)


_lock = threading.Lock()
_current: Clock = Clock()


def now() -> dt.datetime:
    return _current.now()


def real_now() -> dt.datetime:
    """The wall clock, for the one place that needs it: turning simulated time into the
    shared clock's offset. Rules read `now()`."""
    return dt.datetime.now(dt.UTC)


def current() -> Clock:
    return _current


def install(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one."""
    global _current
    with _lock:
        previous, _current = _current, clock
    return previous


def announce_moved() -> None:
    """Tell every process that the stored clock changed; this process re-reads at once."""
    if isinstance(_current, SharedClock):
        _current.refresh()
    try:
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        try:
            client.publish(channel(), "moved")
        finally:
            client.close()
    except Exception as exc:  # other processes still re-read within CLOCK_CACHE_SECONDS
        log.warning("could not announce the clock move: %s", exc)


@contextmanager
def frozen(at: dt.datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(at)
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)
