"""Reads for the developers' message log that join other apps' records to messages: the
charges billing rated for them and the stream events about them. Read-only, every query
scoped to one business and bounded."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from billing.models import BillableEventRecord
from parley.core.models import StreamEntry
from parley.messaging.models import Message

# Payload fields that carry a message's content (message.received): only for readers.
CONTENT_FIELDS = frozenset({"text", "content_json"})
MAX_STREAM_EVENTS = 100


@dataclasses.dataclass(frozen=True)
class Charge:
    """One billable event billing rated with the message among its members."""

    event_id: str
    event_type: str
    category: str  # the WhatsApp category, or the event type for other models
    billable: bool
    reason: str
    status: str  # provisional or final
    currency: str
    unit_price: Decimal
    quantity: int
    messages: int  # how many messages the event covers
    opened_by: str  # the wamid of the event's first message

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


def _charge(row: BillableEventRecord, members: list[str]) -> Charge:
    return Charge(
        event_id=row.event_id,
        event_type=row.event_type,
        category=row.whatsapp_category or row.event_type,
        billable=row.chargeable,
        reason=row.reason,
        status=row.status,
        currency=row.currency,
        unit_price=row.unit_price,
        quantity=row.quantity,
        messages=len(members),
        opened_by=members[0] if members else "",
    )


def charges_for(business_id: int, messages: Iterable[Message]) -> dict[str, list[Charge]]:
    """The charges rated for each of `messages` (by wamid; none when not rated), in one
    query however many messages: a page of the log costs one more read, not one a row."""
    wanted = {m.wamid: m.conversation.customer for m in messages}
    if not wanted:
        return {}
    rows = (
        BillableEventRecord.objects.filter(
            business_id=business_id, customer__in=sorted(set(wanted.values()))
        )
        .filter(reduce(or_, (Q(message_ids__contains=w) for w in sorted(wanted))))
        .order_by("start", "event_id")
    )
    found: dict[str, list[Charge]] = {}
    for row in rows[: 4 * len(wanted)]:
        members = row.message_ids.split()
        charge = _charge(row, members)
        for wamid in members:
            if wamid in wanted:
                found.setdefault(wamid, []).append(charge)
    return found


@dataclasses.dataclass(frozen=True)
class StreamEventView:
    stream_id: int
    name: str
    occurred_at: dt.datetime
    fields: list[tuple[str, Any]]


def list_message_stream_events(
    business_id: int, wamid: str, *, with_content: bool, limit: int = MAX_STREAM_EVENTS
) -> list[StreamEventView]:
    """The durable stream's entries about one message (`message_id` = its wamid), oldest
    first, at most `limit`. Content fields are left out unless `with_content`."""
    rows = (
        StreamEntry.objects.filter(business_id=business_id, payload__message_id=wamid)
        .order_by("id")
        .values_list("id", "name", "occurred_at", "payload")[:limit]
    )
    views = []
    for stream_id, name, occurred_at, payload in rows:
        data = payload if isinstance(payload, dict) else {}
        fields = [
            (key, value)
            for key, value in sorted(data.items())
            if key != "message_id" and (with_content or key not in CONTENT_FIELDS)
        ]
        views.append(StreamEventView(stream_id, name, occurred_at, fields))
    return views
