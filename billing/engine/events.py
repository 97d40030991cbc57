"""Billable events: what the engine produces, one row of a billing report each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import blake2b

from billing.engine.facts import Channel, Direction, MessageFact, WaCategory
from billing.engine.periods import period_of


class BillingModel(StrEnum):
    STANDARD = "standard"  # RCS, customers outside the US
    US = "us"  # RCS, traffic to or from US numbers
    WHATSAPP = "whatsapp"


class EventType(StrEnum):
    # RCS standard model
    BASIC_MESSAGE = "basic_message"
    SINGLE_MESSAGE = "single_message"
    A2P_CONVERSATION = "a2p_conversation"
    P2A_CONVERSATION = "p2a_conversation"
    P2A_MESSAGE = "p2a_message"
    # RCS US model
    A2P_RICH_MESSAGE = "a2p_rich_message"
    A2P_RICH_MEDIA_MESSAGE = "a2p_rich_media_message"
    P2A_RICH_MESSAGE = "p2a_rich_message"
    P2A_RICH_MEDIA_MESSAGE = "p2a_rich_media_message"
    SUGGESTED_ACTION_CLICK = "suggested_action_click"
    # WhatsApp: per-message pricing (from 2025-07-01)
    WHATSAPP_MESSAGE = "whatsapp_message"
    # WhatsApp: conversation-based pricing (before 2025-07-01)
    WHATSAPP_CONVERSATION = "whatsapp_conversation"


CONVERSATION_TYPES = frozenset(
    {EventType.A2P_CONVERSATION, EventType.P2A_CONVERSATION, EventType.WHATSAPP_CONVERSATION}
)


class EventStatus(StrEnum):
    PROVISIONAL = "provisional"
    FINAL = "final"


def event_id(opener_message_id: str, event_type: EventType) -> str:
    """Deterministic id: the same opening message and type always give the same id."""
    data = (event_type + "\x1f" + opener_message_id).encode()
    return blake2b(data, digest_size=12).hexdigest()


@dataclass(slots=True)
class BillableEvent:
    """One billable event.

    ``start`` is the delivery time of the first member message (it decides the period);
    ``end`` is the conversation window's end, or ``start`` for single-message events.
    ``segment_count`` is set for US rich messages (160 UTF-8 bytes a segment), else 0.
    ``whatsapp_category`` is set for WhatsApp events. ``chargeable`` is False for free
    events, with ``reason`` saying why either way. ``status`` is computed against the
    ``now`` given to the engine; ``final_at`` is when it becomes final.

    Treat it as a value: it is not ``frozen`` only because a frozen dataclass costs four
    times as much to build, and the engine builds one per billed message.
    """

    event_id: str
    event_type: EventType
    model: BillingModel
    channel: Channel
    business_id: str
    agent_id: str
    customer: str
    country: str
    start: datetime
    end: datetime
    message_ids: tuple[str, ...]
    mt_count: int
    mo_count: int
    size_bytes: int
    segment_count: int
    whatsapp_category: WaCategory | None
    chargeable: bool
    reason: str
    status: EventStatus
    final_at: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def period(self) -> str:
        """Billing period ``YYYY-MM`` (UTC) of the delivery that starts the event."""
        return period_of(self.start)

    @property
    def size_kilobytes(self) -> float:
        """Payload size in kilobytes (1 KB = 1024 bytes), to three decimals."""
        return round(self.size_bytes / 1024, 3)

    @property
    def rate_item(self) -> str:
        """The rate-card item this event is priced as (WhatsApp: its category)."""
        if self.whatsapp_category is not None:
            return self.whatsapp_category.value
        return self.event_type.value

    @property
    def quantity(self) -> int:
        """Units charged: segments for US rich messages, otherwise one per event."""
        return self.segment_count or 1


def status_at(final_at: datetime, now: datetime) -> EventStatus:
    return EventStatus.FINAL if now >= final_at else EventStatus.PROVISIONAL


def single_message_event(
    fact: MessageFact,
    etype: EventType,
    model: BillingModel,
    country: str,
    *,
    segments: int,
    reason: str,
    final_at: datetime,
    now: datetime,
) -> BillableEvent:
    """The event of one delivered message billed on its own (no conversation)."""
    at = fact.delivered_at
    assert at is not None
    a2p = fact.direction is Direction.A2P
    return BillableEvent(
        event_id(fact.message_id, etype),
        etype,
        model,
        fact.channel,
        fact.business_id,
        fact.agent_id,
        fact.customer,
        country,
        at,
        at,
        (fact.message_id,),
        1 if a2p else 0,
        0 if a2p else 1,
        fact.size_bytes or fact.text_bytes,  # payload_bytes, inlined on the hot path
        segments,
        None,
        True,
        reason,
        EventStatus.FINAL if now >= final_at else EventStatus.PROVISIONAL,
        final_at,
    )
