"""Waking the consumers after a commit: at most one queued run at a time.

A Redis `SET NX` marks a run as queued; the run clears the mark before it reads the log, so
an event committed during a run queues the next one. The beat sweep (every few seconds)
covers a wake lost with Redis."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from django.conf import settings

from parley.core.queue import enqueue

log = logging.getLogger(__name__)

_clients: dict[str, redis.Redis] = {}


def redis_client() -> redis.Redis:
    """A client of the installation's Redis, short timeouts, one per URL and process."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )
    return client


def wake_key() -> str:
    return f"{settings.NAMESPACE}:stream:wake"


def commit_channel() -> str:
    """Where each commit that appended events is announced, for the processes that run a
    dedicated consumer (they wake on it)."""
    return f"{settings.NAMESPACE}:stream:commit"


_suspended = threading.local()


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """No wake-ups from this thread's commits meanwhile: for a process that runs the
    consumers itself (a simulation on its own clock); the workers' sweep still catches up
    whatever it leaves."""
    before = getattr(_suspended, "on", False)
    _suspended.on = True
    try:
        yield
    finally:
        _suspended.on = before


def wake_consumers() -> None:
    if getattr(_suspended, "on", False):
        return
    try:
        pipe = redis_client().pipeline(transaction=False)
        pipe.set(wake_key(), b"1", nx=True, ex=30)
        pipe.publish(commit_channel(), b"1")
        queued, _ = pipe.execute()
        if queued:
            enqueue("parley.core.tasks.run_stream")
    except Exception:
        # The commit stands; the sweep runs the consumers shortly.
        log.warning("could not wake the stream consumers", exc_info=True)


def clear_wake() -> None:
    try:
        redis_client().delete(wake_key())
    except redis.RedisError:
        log.warning("could not clear the stream wake mark", exc_info=True)


# -- one worker at a time runs the shared consumers ---------------------------------------

TURN_SECONDS = 10  # the turn of a worker that died holding it ends by itself
# A turn not kept for this long (a round usually takes a fraction of it): its worker may
# have died, or be in a long round; a run woken meanwhile runs too rather than leave a note
# (two runs are what every run was before turns: the consumers' row locks keep them apart).
STALE_SECONDS = 1


def _runner_keys(names: Iterable[str]) -> tuple[str, str]:
    """The turn's keys of the workers that run these consumers (a worker with other
    consumer modules takes its own turns)."""
    scope = hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:16]
    turn = f"{settings.NAMESPACE}:stream:runner:{scope}"
    return turn, f"{turn}:again"


class Turn:
    """A worker's turn at running the shared consumers (a Redis lock), kept while it runs."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock

    def keep(self) -> None:
        """Still running (after each round): the turn lasts TURN_SECONDS from now."""
        if self.lock is None:
            return
        try:
            self.lock.reacquire()
        except redis.RedisError:
            log.warning("could not extend the stream runner's turn", exc_info=True)


_UNGUARDED = Turn(None)


@contextlib.contextmanager
def runner_turn(names: Iterable[str]) -> Iterator[Turn | None]:
    """Take the turn to run the shared consumers; yields None when another worker has it,
    after leaving it a note to go round again. The note is left before trying: either the
    turn is free (ours), or its holder has not let it go yet and reads the note after it
    does (`take_runner_note`). When the holder has not kept its turn for STALE_SECONDS (a
    worker that died mid-round, or a long round), and without Redis, the run runs anyway
    (the consumers' row locks keep two runs of a consumer apart)."""
    turn_key, note_key = _runner_keys(names)
    client = redis_client()
    try:
        client.set(note_key, b"1", ex=TURN_SECONDS)
        lock = client.lock(turn_key, timeout=TURN_SECONDS)
        acquired = bool(lock.acquire(blocking=False))
        stale = False
        if acquired:
            client.delete(note_key)
        else:
            stale = int(client.pttl(turn_key)) <= (TURN_SECONDS - STALE_SECONDS) * 1000
    except redis.RedisError:
        log.warning("could not take the stream runner's turn", exc_info=True)
        yield _UNGUARDED
        return
    if not acquired:
        yield _UNGUARDED if stale else None
        return
    try:
        yield Turn(lock)
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()


def take_runner_note(names: Iterable[str]) -> bool:
    """After a turn: whether a worker woken meanwhile left a note (consumed)."""
    try:
        return bool(redis_client().getdel(_runner_keys(names)[1]))
    except redis.RedisError:
        return False
