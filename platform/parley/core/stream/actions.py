"""Writers of the stream's own state: re-driving dead letters and compacting the log."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Min

from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.stream.consumers import registered


def do_redrive_dead_letters(consumer: str, entry_ids: list[int] | None = None) -> int:
    """Give dead letters (all of the consumer's, or the listed ones) a fresh set of attempts,
    due now; returns how many. The consumers are woken after commit."""
    from parley.core.stream.wake import wake_consumers

    if consumer not in registered() and not StreamConsumer.objects.filter(name=consumer).exists():
        raise InvalidParameter(f"There is no stream consumer named {consumer!r}.", field="consumer")
    with transaction.atomic():
        qs = StreamPending.objects.filter(consumer=consumer, state=StreamPending.DEAD)
        if entry_ids is not None:
            qs = qs.filter(entry_id__in=entry_ids)
        count = qs.update(
            state=StreamPending.RETRY, attempts=0, next_attempt_at=clock.now(), last_error=""
        )
        if count:
            transaction.on_commit(wake_consumers)
    return count


def compaction_horizon() -> int:
    """The largest id every consumer has passed (0 while a registered consumer never ran)."""
    names = set(registered())
    states = dict(StreamConsumer.objects.filter(name__in=names).values_list("name", "position"))
    if not names or names - set(states):
        return 0
    return min(states.values())


def do_compact_stream(older_than: dt.timedelta | None = None) -> int:
    """Delete entries every consumer has passed, once older than the retention age (on the
    simulation clock); entries still pending for some consumer stay. Returns how many."""
    if older_than is None:
        older_than = dt.timedelta(days=float(settings.PARLEY["STREAM_RETENTION_DAYS"]))
    horizon = compaction_horizon()
    if horizon <= 0:
        return 0
    cutoff = clock.now() - older_than
    pending_from = StreamPending.objects.aggregate(m=Min("entry_id"))["m"]
    deleted = 0
    with transaction.atomic():
        qs = StreamEntry.objects.filter(id__lte=horizon, occurred_at__lt=cutoff)
        if pending_from is not None:
            kept = StreamPending.objects.filter(entry_id__lte=horizon).values("entry_id")
            qs = qs.exclude(id__in=kept)
        deleted, _ = qs.delete()
    return deleted
