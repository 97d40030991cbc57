"""Deliveries the delivery worker's own run of the stream consumer creates go straight to its
sender: they are written already leased to it, and handed over once committed, with no
claim query and no wake in between. Elsewhere (a Celery worker, a test) the consumer writes
them unleased for any worker to claim."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()


@dataclasses.dataclass
class Handoff:
    lease_until: dt.datetime  # wall clock, as every lease
    taken: list[tuple[str, Any]] = dataclasses.field(default_factory=list)  # webhook-id, app

    def take(self, webhook_id: str, app: Any) -> None:
        self.taken.append((webhook_id, app))


@contextmanager
def collecting(lease_until: dt.datetime) -> Iterator[Handoff]:
    """While the consumer runs in this thread, collect the deliveries it leases."""
    handoff = Handoff(lease_until)
    _local.current = handoff
    try:
        yield handoff
    finally:
        _local.current = None


def current() -> Handoff | None:
    return getattr(_local, "current", None)
