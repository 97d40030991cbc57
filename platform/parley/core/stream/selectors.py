"""Reading the stream: its size, each consumer's position and lag, dead letters, and the
entries a staff websocket missed."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db.models import Count, Max, Min, Q

from parley.core.events import Event
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.stream import log as stream_log
from parley.core.stream.consumers import registered


@dataclasses.dataclass(frozen=True)
class ConsumerStatus:
    name: str
    position: int
    lag: int  # entries after the position, plus deliveries waiting for a retry
    retrying: int
    dead: int
    processed: int

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StreamStatus:
    entries: int
    first_id: int
    last_id: int
    consumers: list[ConsumerStatus]

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "consumers": {c.name: c.as_dict() for c in self.consumers},
        }


def get_stream_status() -> StreamStatus:
    size = StreamEntry.objects.aggregate(n=Count("id"), first=Min("id"), last=Max("id"))
    last = int(size["last"] or 0)
    states = {s.name: s for s in StreamConsumer.objects.all()}
    pending = {
        row["consumer"]: row
        for row in StreamPending.objects.values("consumer").annotate(
            retrying=Count("id", filter=Q(state=StreamPending.RETRY)),
            dead=Count("id", filter=Q(state=StreamPending.DEAD)),
        )
    }
    consumers = []
    for name in sorted(set(registered()) | set(states)):
        state = states.get(name)
        position = state.position if state else 0
        counts = pending.get(name, {"retrying": 0, "dead": 0})
        consumers.append(
            ConsumerStatus(
                name=name,
                position=position,
                lag=StreamEntry.objects.filter(id__gt=position).count() + counts["retrying"],
                retrying=counts["retrying"],
                dead=counts["dead"],
                processed=state.processed if state else 0,
            )
        )
    return StreamStatus(int(size["n"]), int(size["first"] or 0), last, consumers)


def list_dead_letters(consumer: str, limit: int = 50) -> list[StreamPending]:
    return list(
        StreamPending.objects.filter(consumer=consumer, state=StreamPending.DEAD).order_by(
            "entry_id"
        )[:limit]
    )


def list_missed_events(
    business_id: int, role: str, user_id: int, after: int, limit: int = 500, upto: int | None = None
) -> list[tuple[int, Event]]:
    """The entries after `after` that a staff member may see: those addressed to the role,
    and those addressed to the user, up to `upto` (an id known to be settled) or else the
    safe bound (stream order)."""
    bound = stream_log.safe_bound(after) if upto is None else upto
    rows = (
        StreamEntry.objects.filter(business_id=business_id, id__gt=after, id__lte=bound)
        .filter(Q(user_id=user_id) | Q(user_id__isnull=True, audience__contains=f",{role},"))
        .order_by("id")[:limit]
    )
    return [(row.id, stream_log.to_event(row)) for row in rows]
