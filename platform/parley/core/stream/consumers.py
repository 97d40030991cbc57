"""The consumer registry.

    @consumer("console", events=None)             # every event, one at a time
    def send(event: Event, stream_id: int) -> None: ...

    @batch_consumer("billing", events=(DeliveryRecorded,))
    def record(items: list[Delivery]) -> None: ...  # a batch at once

A consumer runs inside the transaction that saves its position: a consumer whose effect is
in the database applies each event exactly once, even if the worker dies mid-batch (the
transaction rolls back and the batch runs again). Effects outside the database (a channel
layer send, an HTTP call) are at least once: carry the stream id so the far side can drop a
repeat. A batch handler that raises is retried one event at a time, so one bad event is
isolated; each event then has its own retries, backoff and dead letter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from parley.core.events import Event


@dataclasses.dataclass(frozen=True)
class Delivery:
    stream_id: int
    key: str
    event: Event


BatchHandler = Callable[[list[Delivery]], None]
EventHandler = Callable[[Event, int], None]


@dataclasses.dataclass(frozen=True)
class Consumer:
    name: str
    handle_batch: BatchHandler
    # Event names it reads (None: all); the others only move its position.
    events: frozenset[str] | None
    batch_size: int = 500
    max_attempts: int | None = None
    # Run by a process of its own (which it names), not by the Celery workers' stream runs.
    dedicated: str = ""


_registry: dict[str, Consumer] = {}


def _names(events: Iterable[type[Event]] | None) -> frozenset[str] | None:
    return None if events is None else frozenset(e.name for e in events)


def register(c: Consumer) -> Consumer:
    _registry[c.name] = c
    return c


def unregister(name: str) -> None:
    _registry.pop(name, None)


def consumer(
    name: str,
    events: Sequence[type[Event]] | None = None,
    *,
    batch_size: int = 500,
    max_attempts: int | None = None,
    dedicated: str = "",
) -> Callable[[EventHandler], EventHandler]:
    """Register a handler called with each event and its stream id."""

    def decorate(fn: EventHandler) -> EventHandler:
        def each(items: list[Delivery]) -> None:
            for item in items:
                fn(item.event, item.stream_id)

        register(Consumer(name, each, _names(events), batch_size, max_attempts, dedicated))
        return fn

    return decorate


def batch_consumer(
    name: str,
    events: Sequence[type[Event]] | None = None,
    *,
    batch_size: int = 500,
    max_attempts: int | None = None,
    dedicated: str = "",
) -> Callable[[BatchHandler], BatchHandler]:
    """Register a handler called with a list of deliveries (stream order). A `dedicated`
    consumer is run by the named process (which wakes on every commit), not by the Celery
    workers: it stays close behind the log without waiting its turn among the others."""

    def decorate(fn: BatchHandler) -> BatchHandler:
        register(Consumer(name, fn, _names(events), batch_size, max_attempts, dedicated))
        return fn

    return decorate


def registered() -> dict[str, Consumer]:
    return dict(_registry)


def get(name: str) -> Consumer:
    return _registry[name]
