"""Builders for message facts in tests: short scripts instead of long constructors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.engine import (
    BillableEvent,
    BillingCategory,
    Channel,
    Content,
    Direction,
    MessageFact,
    Suggestions,
    WaCategory,
    rate,
)

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # a rating time when everything is final
INDIA = "+919876543210"
BRAZIL = "+5511987654321"
USA = "+12025550123"

A2P = Direction.A2P
P2A = Direction.P2A
CONV = BillingCategory.CONVERSATIONAL
NON_CONV = BillingCategory.NON_CONVERSATIONAL


def fact(
    message_id: str,
    direction: Direction = A2P,
    hours: float = 0,
    *,
    content: Content = Content.TEXT,
    text_bytes: int = 20,
    suggestions: Suggestions = Suggestions.NONE,
    url_preview: bool = False,
    customer: str = INDIA,
    agent: str = "agent-1",
    category: BillingCategory = CONV,
    channel: Channel = Channel.RCS,
    template: WaCategory | None = None,
    base: datetime = T0,
    delivery_delay: timedelta | None = timedelta(0),
    expired: bool = False,
    size_bytes: int = 0,
) -> MessageFact:
    """A fact delivered ``hours`` after ``base`` (sent ``delivery_delay`` earlier)."""
    delivered = base + timedelta(hours=hours)
    if delivery_delay is None:
        sent, at = delivered, None
    else:
        sent, at = delivered - delivery_delay, delivered
    return MessageFact(
        message_id=message_id,
        business_id="biz-1",
        agent_id=agent,
        agent_category=category,
        customer=customer,
        direction=direction,
        content=content,
        sent_at=sent,
        delivered_at=at,
        channel=channel,
        expired=expired,
        text_bytes=text_bytes,
        suggestions=suggestions,
        url_preview=url_preview,
        template_category=template,
        size_bytes=size_bytes,
    )


def at(message: MessageFact) -> datetime:
    """The delivery time of a fact known to be delivered."""
    assert message.delivered_at is not None
    return message.delivered_at


def script(steps: str, **kwargs: object) -> list[MessageFact]:
    """Facts from ``"a1@0 a2@1 p1@2.5"``: a = A2P, p = P2A, @ hours after T0."""
    facts = []
    for step in steps.split():
        name, hours = step.split("@")
        direction = A2P if name.startswith("a") else P2A
        facts.append(fact(name, direction, float(hours), **kwargs))  # type: ignore[arg-type]
    return facts


def summary(events: list[BillableEvent]) -> list[tuple[str, tuple[str, ...]]]:
    """(event type, member ids) in start order: what the tables compare."""
    ordered = sorted(events, key=lambda e: (e.start, e.message_ids))
    return [(e.event_type.value, e.message_ids) for e in ordered]


def rate_summary(
    facts: list[MessageFact], now: datetime = LATER
) -> list[tuple[str, tuple[str, ...]]]:
    return summary(rate(facts, now=now).events)
