"""Publish-on-commit: events leave the process only once the write that caused them is
durable, so no listener ever sees a rolled-back change."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
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


def publish(event: Event) -> None:
    """Dispatch after the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: dispatch(event))
