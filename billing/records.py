"""Conversions between the engine's values and billing's rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from billing.engine import (
    BillableEvent,
    BillingCategory,
    Channel,
    Content,
    Direction,
    MessageFact,
    PricedEvent,
    Suggestions,
    WaCategory,
)

FACT_COLUMNS = (
    "business_id", "message_id", "agent_id", "agent_category", "customer", "country",
    "channel", "direction", "content", "suggestions", "url_preview", "template_category",
    "text_bytes", "size_bytes", "sent_at", "delivered_at", "expired", "entry_point",
)  # fmt: skip
# A message first recorded as pending is updated when it is delivered or expires.
FACT_UPDATES = ("delivered_at", "expired")

EVENT_COLUMNS = (
    "business_id", "event_id", "event_type", "model", "channel", "agent_id", "customer",
    "country", "start", "end", "period", "message_ids", "mt_messages", "mo_messages",
    "size_bytes", "segment_count", "whatsapp_category", "chargeable", "reason", "status",
    "final_at", "currency", "unit_price", "quantity",
)  # fmt: skip

_CATEGORIES = {c.value: c for c in BillingCategory}
_CHANNELS = {c.value: c for c in Channel}
_DIRECTIONS = {d.value: d for d in Direction}
_CONTENTS = {c.value: c for c in Content}
_SUGGESTIONS = {s.value: s for s in Suggestions}
_WA = {w.value: w for w in WaCategory}


# The engine's enums are StrEnums: the members are their string values, and the drivers
# store them as text, so rows carry the members (no `.value` lookup a million times).
def fact_row(business_id: int, fact: MessageFact, country: str) -> tuple[Any, ...]:
    return (
        business_id, fact.message_id, fact.agent_id, fact.agent_category, fact.customer,
        country, fact.channel, fact.direction, fact.content, fact.suggestions, fact.url_preview,
        fact.template_category or "",
        fact.text_bytes, fact.size_bytes, fact.sent_at, fact.delivered_at, fact.expired,
        fact.entry_point,
    )  # fmt: skip


FACT_READ_COLUMNS = (
    "message_id", "agent_id", "agent_category", "customer", "country", "channel", "direction",
    "content", "suggestions", "url_preview", "template_category", "text_bytes", "size_bytes",
    "sent_at", "delivered_at", "expired", "entry_point",
)  # fmt: skip


def facts_from_rows(business_id: int, rows: Iterable[tuple[Any, ...]]) -> Iterator[MessageFact]:
    biz = str(business_id)
    for (message_id, agent_id, category, customer, country, channel, direction, content,
         suggestions, url_preview, template, text_bytes, size_bytes, sent_at, delivered_at,
         expired, entry_point) in rows:  # fmt: skip
        yield MessageFact(
            message_id=message_id,
            business_id=biz,
            agent_id=agent_id,
            agent_category=_CATEGORIES[category],
            customer=customer,
            direction=_DIRECTIONS[direction],
            content=_CONTENTS[content],
            sent_at=_aware(sent_at),
            delivered_at=_aware(delivered_at) if delivered_at is not None else None,
            channel=_CHANNELS[channel],
            expired=bool(expired),
            text_bytes=text_bytes,
            suggestions=_SUGGESTIONS[suggestions],
            url_preview=bool(url_preview),
            template_category=_WA[template] if template else None,
            size_bytes=size_bytes,
            country=country or None,
            entry_point=bool(entry_point),
        )


def _aware(value: dt.datetime | str) -> dt.datetime:
    """Raw rows hold aware datetimes (PostgreSQL) or naive UTC text (SQLite)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def event_row(business_id: int, priced: PricedEvent) -> tuple[Any, ...]:
    e: BillableEvent = priced.event
    return (
        business_id, e.event_id, e.event_type, e.model, e.channel, e.agent_id,
        e.customer, e.country, e.start, e.end, e.period, " ".join(e.message_ids), e.mt_count,
        e.mo_count, e.size_bytes, e.segment_count,
        e.whatsapp_category or "", e.chargeable, e.reason[:120],
        e.status, e.final_at, priced.currency, priced.unit_price, priced.quantity,
    )  # fmt: skip
