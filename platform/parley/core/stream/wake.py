"""Waking the consumers after a commit: at most one queued run at a time.

A Redis `SET NX` marks a run as queued; the run clears the mark before it reads the log, so
an event committed during a run queues the next one. The beat sweep (every few seconds)
covers a wake lost with Redis."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

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
