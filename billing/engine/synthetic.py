"""Deterministic synthetic message facts, for benchmarks (engine-only and DB-backed).

Facts come in sessions per (channel, agent, customer): alternating business and customer
messages with gaps from seconds to more than a day, so conversations open, miss their
24 h windows, and cross month ends. Traffic is mixed: RCS (3/4) and WhatsApp (1/4), both
agent categories, customers in the US, India and other countries, a few undelivered or
expired messages, and WhatsApp traffic on both sides of the 2025-07-01 pricing switch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from billing.engine.categories import BillingCategory
from billing.engine.facts import (
    Channel,
    Content,
    Direction,
    MessageFact,
    Suggestions,
    WaCategory,
)

SYNTHETIC_START = datetime(2025, 6, 1, tzinfo=UTC)
SYNTHETIC_SPAN = timedelta(days=60)
# A rating time after every synthetic delivery, so events of the first weeks are final.
SYNTHETIC_NOW = SYNTHETIC_START + SYNTHETIC_SPAN + timedelta(days=5)

# (prefix, digits after it, weight): valid numbering ranges of each country.
_COUNTRIES = (
    ("+1202555", 4, 25),  # US
    ("+1416555", 4, 3),  # CA
    ("+9198", 8, 25),  # IN
    ("+55119", 8, 8),  # BR
    ("+447700", 6, 6),  # GB
    ("+4915", 9, 5),  # DE
    ("+336", 8, 4),  # FR
    ("+628", 9, 8),  # ID
    ("+52155", 8, 6),  # MX
    ("+2348", 9, 5),  # NG
    ("+9715", 8, 5),  # AE
)
_A2P_CONTENT = (Content.TEXT,) * 6 + (Content.RICH_CARD, Content.MEDIA)
_P2A_CONTENT = (Content.TEXT,) * 8 + (
    Content.SUGGESTED_REPLY_TAP,
    Content.SUGGESTED_REPLY_TAP,
    Content.SUGGESTED_ACTION_TAP,
    Content.MEDIA,
    Content.LOCATION_SHARE,
    Content.STOP_START,
    Content.SUBSCRIPTION_EVENT,
)
_TEMPLATES = (
    WaCategory.MARKETING,
    WaCategory.MARKETING,
    WaCategory.UTILITY,
    WaCategory.AUTHENTICATION,
    None,
    None,
)
_TEXT_BYTES = (20, 60, 120, 150, 160, 161, 240, 320, 480, 900)
_GAPS_S = (5, 30, 120, 600, 3600, 4 * 3600, 12 * 3600, 23 * 3600, 26 * 3600, 40 * 3600)


def iter_facts(n: int, *, seed: int = 0, agents: int = 500) -> Iterator[MessageFact]:
    """Yield ``n`` facts, session by session (each session in time order)."""
    rng = random.Random(seed)
    categories = [
        BillingCategory.CONVERSATIONAL if i % 3 else BillingCategory.NON_CONVERSATIONAL
        for i in range(agents)
    ]
    weights = [w for _, _, w in _COUNTRIES]
    span_s = int(SYNTHETIC_SPAN.total_seconds())
    produced = 0
    session = 0
    while produced < n:
        session += 1
        prefix, digits, _ = rng.choices(_COUNTRIES, weights)[0]
        customer = f"{prefix}{rng.randrange(10**digits):0{digits}d}"
        whatsapp = rng.random() < 0.25
        agent_no = rng.randrange(agents)
        agent = f"wa-{agent_no}" if whatsapp else f"agent-{agent_no}"
        category = categories[agent_no]
        t = SYNTHETIC_START + timedelta(seconds=rng.randrange(span_s - 6 * 86400))
        direction = Direction.A2P if rng.random() < 0.7 else Direction.P2A
        for _ in range(min(rng.randint(1, 12), n - produced)):
            produced += 1
            t += timedelta(seconds=rng.choice(_GAPS_S) + rng.randrange(60))
            yield _fact(
                rng, f"s{session}-{produced}", agent, category, customer, direction, t, whatsapp
            )
            if rng.random() < 0.6:  # mostly alternate, sometimes several in a row
                direction = Direction.P2A if direction is Direction.A2P else Direction.A2P


def generate_facts(n: int, *, seed: int = 0, shuffle: bool = True) -> list[MessageFact]:
    """``n`` facts; shuffled by default, as an unordered query would return them."""
    facts = list(iter_facts(n, seed=seed))
    if shuffle:
        random.Random(seed + 1).shuffle(facts)
    return facts


def _fact(
    rng: random.Random,
    message_id: str,
    agent: str,
    category: BillingCategory,
    customer: str,
    direction: Direction,
    sent: datetime,
    whatsapp: bool,
) -> MessageFact:
    roll = rng.random()
    delivered: datetime | None = sent + timedelta(seconds=rng.randrange(1, 20))
    expired = False
    if direction is Direction.A2P:
        if roll < 0.02:
            delivered, expired = None, True
        elif roll < 0.03:
            delivered = None
        elif roll < 0.06:
            delivered = sent + timedelta(hours=rng.randrange(1, 72))  # handset was offline
    if whatsapp:
        content = Content.TEXT if direction is Direction.P2A else rng.choice(_A2P_CONTENT)
    else:
        content = rng.choice(_A2P_CONTENT if direction is Direction.A2P else _P2A_CONTENT)
    text = rng.choice(_TEXT_BYTES)
    return MessageFact(
        message_id=message_id,
        business_id=f"biz-{agent}",
        agent_id=agent,
        agent_category=category,
        customer=customer,
        direction=direction,
        content=content,
        sent_at=sent,
        delivered_at=delivered,
        channel=Channel.WHATSAPP if whatsapp else Channel.RCS,
        expired=expired,
        text_bytes=text,
        suggestions=rng.choice((Suggestions.NONE, Suggestions.NONE, Suggestions.BASIC))
        if direction is Direction.A2P and not whatsapp
        else Suggestions.NONE,
        url_preview=roll > 0.95,
        template_category=rng.choice(_TEMPLATES)
        if whatsapp and direction is Direction.A2P
        else None,
        size_bytes=text + (200_000 if content is Content.MEDIA else 0),
    )
