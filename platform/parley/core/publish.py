"""Publishing: every event is written to the durable stream in the caller's transaction (the
outbox, parley.core.stream) and, once that transaction commits, the stream's consumers are
woken and the in-process listeners called.

In-process listeners (`listen`/`dispatch`) run in the publishing process after commit and
are lost if it dies: use them only for work that may be lost, such as a push that only
hurries a client which would fetch anyway. Anything that must happen (billing, webhooks,
the console feed) is a stream consumer (parley.core.stream.consumers)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.db import transaction

from parley.core.events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Listener = Callable[[Event], None]

_listeners: defaultdict[type[Event], list[Listener]] = defaultdict(list)
_any_listeners: list[Listener] = []


def listen(
    event_type: type[E] | None = None,
) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Register a listener for one event type, or for every event when called bare."""

    def register(fn: Callable[[E], None]) -> Callable[[E], None]:
        if event_type is None:
            _any_listeners.append(fn)  # type: ignore[arg-type]
        else:
            _listeners[event_type].append(fn)  # type: ignore[arg-type]
        return fn

    return register


def dispatch(event: Event) -> None:
    """Hand an event to its listeners now. A failing listener is logged and does not stop
    the others: one consumer's outage must not hide the event from the rest."""
    for listener in [*_any_listeners, *_listeners.get(type(event), [])]:
        try:
            listener(event)
        except Exception:
            log.exception("listener %r failed on %s", listener, event.name)


def publish(event: Event) -> int:
    """Append the event to the stream in the current transaction (committed at once outside
    one); after commit, wake the consumers and call the in-process listeners. Returns the
    stream id."""
    from parley.core.stream import log, wake

    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        with transaction.atomic():
            return publish(event)
    first = not any(fn is wake.wake_consumers for _, fn, _ in connection.run_on_commit)
    stream_id = log.append(event, first_in_transaction=first)
    _after_commit([event], first)
    return stream_id


def publish_many(events: Sequence[Event]) -> list[int]:
    """`publish` for many events at once (in this order, one INSERT per few hundred): what a
    consumer that acts on a whole batch publishes. Returns their stream ids."""
    from parley.core.stream import log, wake

    if not events:
        return []
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        with transaction.atomic():
            return publish_many(events)
    first = not any(fn is wake.wake_consumers for _, fn, _ in connection.run_on_commit)
    ids = log.append_many(events, first_in_transaction=first)
    _after_commit(events, first)
    return ids


def _after_commit(events: Sequence[Event], first: bool) -> None:
    from parley.core.stream import wake

    if first:
        # One wake per transaction, however many events it publishes.
        transaction.on_commit(wake.wake_consumers)
    for event in events:
        if _any_listeners or _listeners.get(type(event)):
            transaction.on_commit(lambda e=event: dispatch(e))  # type: ignore[misc]
