"""Writers of the stream's own state: re-driving or discarding dead letters, and compacting
the log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet

from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.stream.consumers import registered

log = logging.getLogger(__name__)


def _dead_letters(consumer: str, entry_ids: list[int] | None) -> QuerySet[StreamPending]:
    if consumer not in registered() and not StreamConsumer.objects.filter(name=consumer).exists():
        raise InvalidParameter(f"There is no stream consumer named {consumer!r}.", field="consumer")
    qs = StreamPending.objects.filter(consumer=consumer, state=StreamPending.DEAD)
    return qs if entry_ids is None else qs.filter(entry_id__in=entry_ids)


def _audit(action: str, consumer: str, entry_ids: list[int] | None, count: int,
           by: Actor) -> None:  # fmt: skip
    """Who settled dead letters, in the audit log: in the actor's business's chain, or the
    installation's for the command line."""
    from parley.accounts.actions.audit import do_record_audit

    details: dict[str, object] = {"consumer": consumer, "count": count}
    if entry_ids is not None:
        details["entry_ids"] = entry_ids[:100]
    do_record_audit(f"stream.{action}", business_id=by.business_id, actor_label=by.label,
                    target=f"stream consumer {consumer}", details=details,
                    ip_address=by.ip_address)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts on the stream: a staff member (their business and address) or a command."""

    label: str = "manage.py stream"
    business_id: int | None = None
    ip_address: str | None = None


def do_redrive_dead_letters(
    consumer: str, entry_ids: list[int] | None = None, *, by: Actor = Actor()
) -> int:
    """Give dead letters (all of the consumer's, or the listed ones) a fresh set of attempts,
    due now; returns how many. Each still runs before the later entries of its key. The
    consumers are woken after commit. Audited."""
    from parley.core.stream.wake import wake_consumers

    with transaction.atomic():
        count = _dead_letters(consumer, entry_ids).update(
            state=StreamPending.RETRY, attempts=0, next_attempt_at=clock.now(), last_error=""
        )
        if count:
            _audit("redriven", consumer, entry_ids, count, by)
            transaction.on_commit(wake_consumers)
    return count


def do_discard_dead_letters(
    consumer: str, entry_ids: list[int] | None = None, *, by: Actor = Actor()
) -> int:
    """Give up on dead letters (all of the consumer's, or the listed ones): the consumer
    never handles them, and the later entries of their keys it held back run. Returns how
    many. The consumers are woken after commit. Audited."""
    from parley.core.stream.wake import wake_consumers

    with transaction.atomic():
        count, _ = _dead_letters(consumer, entry_ids).delete()
        if count:
            log.warning("stream consumer %s: %s dead letter(s) discarded", consumer, count)
            _audit("discarded", consumer, entry_ids, count, by)
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
