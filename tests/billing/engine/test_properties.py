"""Properties of rating, checked on generated traffic (hypothesis)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.engine import (
    Channel,
    Content,
    Direction,
    DuplicateFactError,
    EventStatus,
    MessageFact,
    Suggestions,
    WaCategory,
    rate,
    rate_stream,
    sort_facts,
)
from billing.engine.facts import A2P_CONTENT, P2A_CONTENT
from billing.engine.rating import is_expired
from billing.engine.standard import NOT_MO
from tests.billing.engine.factories import CONV, NON_CONV, T0

CUSTOMERS = ("+919876543210", "+5511987654321", "+12025550123")
AGENTS = (("agent-c", CONV), ("agent-n", NON_CONV))
NOW = T0 + timedelta(days=12)


@st.composite
def facts_strategy(draw: st.DrawFn) -> list[MessageFact]:
    n = draw(st.integers(0, 40))
    facts = []
    for i in range(n):
        agent, category = draw(st.sampled_from(AGENTS))
        channel = draw(st.sampled_from([Channel.RCS, Channel.RCS, Channel.WHATSAPP]))
        direction = draw(st.sampled_from(list(Direction)))
        pool = A2P_CONTENT if direction is Direction.A2P else P2A_CONTENT
        content = draw(st.sampled_from(sorted(pool)))
        # Few distinct minutes over 4 days, so ties and 24 h boundaries both happen.
        minutes = draw(st.integers(0, 4 * 24 * 4)) * 15
        sent = T0 + timedelta(minutes=minutes)
        outcome = draw(st.sampled_from(["now", "now", "now", "late", "pending", "expired"]))
        delivered = {
            "now": sent,
            "late": sent + timedelta(hours=draw(st.integers(1, 48))),
            "pending": None,
            "expired": None,
        }[outcome]
        whatsapp = channel is Channel.WHATSAPP
        facts.append(
            MessageFact(
                message_id=f"m{i}",
                business_id="biz",
                agent_id=agent,
                agent_category=category,
                customer=draw(st.sampled_from(CUSTOMERS)),
                direction=direction,
                content=content,
                sent_at=sent,
                delivered_at=delivered,
                channel=channel,
                expired=outcome == "expired",
                text_bytes=draw(st.sampled_from([0, 100, 160, 161, 400])),
                suggestions=draw(st.sampled_from(list(Suggestions))),
                template_category=draw(st.sampled_from([None, *WaCategory]))
                if whatsapp and direction is Direction.A2P
                else None,
            )
        )
    return facts


def billable(fact: MessageFact) -> bool:
    """Which delivered facts must be billed: everything but non-MO user actions (standard),
    the subscription event (US), and WhatsApp customer messages."""
    if fact.channel is Channel.WHATSAPP:
        return fact.direction is Direction.A2P
    if fact.direction is Direction.A2P:
        return True
    if fact.customer.startswith("+1"):
        return fact.content is not Content.SUBSCRIPTION_EVENT
    return fact.content not in NOT_MO


@settings(max_examples=300, deadline=None)
@given(facts_strategy(), st.randoms(use_true_random=False))
def test_rating_is_idempotent_and_order_independent(
    facts: list[MessageFact], rnd: random.Random
) -> None:
    first = rate(facts, now=NOW).events
    assert rate(facts, now=NOW).events == first
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    assert rate(shuffled, now=NOW).events == first
    assert list(rate_stream(sort_facts(shuffled), now=NOW)) == first


@settings(max_examples=100, deadline=None)
@given(facts_strategy(), st.randoms(use_true_random=False))
def test_repeated_facts_count_once_and_conflicting_ones_are_refused(
    facts: list[MessageFact], rnd: random.Random
) -> None:
    once = rate(facts, now=NOW)
    if not facts:
        return
    # Exact repeats (the same object or an equal copy), anywhere in the input.
    repeats = [rnd.choice([f, replace(f)]) for f in rnd.choices(facts, k=rnd.randint(1, 10))]
    noisy = facts + repeats
    rnd.shuffle(noisy)
    again = rate(noisy, now=NOW)
    assert again.events == once.events
    assert again.stats == once.stats
    streamed = list(rate_stream(sort_facts(noisy), now=NOW))
    assert streamed == once.events
    # A different fact under an id already given is refused, never billed twice.
    victim = rnd.choice(facts)
    other = replace(victim, text_bytes=victim.text_bytes + 1)
    with pytest.raises(DuplicateFactError, match=f"message {victim.message_id!r}"):
        rate([*facts, other], now=NOW)


@settings(max_examples=300, deadline=None)
@given(facts_strategy())
def test_every_delivered_billable_message_is_in_exactly_one_event(
    facts: list[MessageFact],
) -> None:
    events = rate(facts, now=NOW).events
    members = Counter(mid for e in events for mid in e.message_ids)
    expected = {f.message_id for f in facts if f.delivered_at is not None and billable(f)}
    assert set(members) == expected
    assert all(count == 1 for count in members.values())
    assert len({e.event_id for e in events}) == len(events)


@settings(max_examples=200, deadline=None)
@given(facts_strategy())
def test_no_undelivered_or_expired_message_is_billed(facts: list[MessageFact]) -> None:
    events = rate(facts, now=NOW).events
    billed = {mid for e in events for mid in e.message_ids}
    undelivered = {f.message_id for f in facts if f.delivered_at is None}
    assert not billed & undelivered
    result = rate(facts, now=NOW)
    assert result.stats.expired == sum(is_expired(f, NOW) for f in facts)


@settings(max_examples=200, deadline=None)
@given(facts_strategy(), st.integers(-3 * 86400, 8 * 86400))
def test_provisional_until_final_at_then_final(facts: list[MessageFact], offset: int) -> None:
    now = T0 + timedelta(seconds=offset)
    for event in rate(facts, now=now).events:
        assert event.final_at >= event.end >= event.start
        expected = EventStatus.FINAL if now >= event.final_at else EventStatus.PROVISIONAL
        assert event.status is expected
    much_later = T0 + timedelta(days=30)
    assert all(e.status is EventStatus.FINAL for e in rate(facts, now=much_later).events)


@settings(max_examples=200, deadline=None)
@given(facts_strategy())
def test_conversation_members_lie_in_its_window(facts: list[MessageFact]) -> None:
    delivered = {f.message_id: f.delivered_at for f in facts}
    for event in rate(facts, now=NOW).events:
        times = [delivered[mid] for mid in event.message_ids]
        assert event.start == times[0]
        assert all(event.start <= t <= event.end for t in times)  # type: ignore[operator]
        assert event.end - event.start <= timedelta(hours=48)
        assert event.mt_count + event.mo_count == len(event.message_ids)
