"""Asking Parley's workers to serve a number's Signal endpoint, and the Redis keys the
endpoint coordinates with.

A number needs at most one waiting task of each kind: `request_send` and `request_receive`
queue one only when none is waiting (the waiting one sees what was committed before it
starts). Each request also leaves a note by the number, which a worker already holding the
number's endpoint takes at its next turn. Tasks are queued by name (parley.core.queue), so
the actions that call these after their commit import neither the tasks nor the endpoint."""

from __future__ import annotations

import redis
from django.conf import settings

from parley.core.queue import enqueue

SEND, RECEIVE = "send", "receive"
# How long a device lock, a request or a note lives at most (a worker that died frees it).
LOCK_SECONDS = 120

_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def key(kind: str, subject: int | str) -> str:
    """The Redis key of `kind` (a lock, a request, a note) for a device or a number."""
    return f"{settings.NAMESPACE}:messaging:{kind}:{subject}"


def note(e164: str, kind: str) -> str:
    """The key of the note that the number has work of `kind` waiting: whichever worker
    holds the number's endpoint takes it at its next turn (a worker sending a steady stream
    serves the receipts that come back meanwhile, without waiting for a task of its own)."""
    return key(f"again:{kind}", e164)


def request(e164: str, kind: str) -> bool:
    """Leave the note of work of `kind` (send or receive) for the number, and mark that a
    worker has been asked to serve it; False when one was asked already and has not
    started: no second task is needed."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.set(note(e164, kind), 1, ex=LOCK_SECONDS)
    pipe.set(key(f"requested:{kind}", e164), 1, nx=True, ex=LOCK_SECONDS)
    return bool(pipe.execute()[1])


def started(e164: str, kind: str) -> None:
    """The asked worker starts: what is committed from now on needs a new request."""
    redis_client().delete(key(f"requested:{kind}", e164))


def request_send(e164: str, message_id: int) -> None:
    """After a message to send is committed: have a worker send it (with the rest)."""
    if request(e164, SEND):
        enqueue("parley.messaging.tasks.deliver_message", message_id, e164)


def request_receive(e164: str) -> None:
    """After the relay queued an envelope for a served number: have a worker pull."""
    if request(e164, RECEIVE):
        enqueue("parley.messaging.tasks.pull_inbox", e164)
