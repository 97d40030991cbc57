"""Delivery time decides the period; expiry; provisional until 2 days after the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.engine import (
    EventStatus,
    EventType,
    InvalidFactError,
    PeriodStatus,
    is_period,
    period_bounds,
    period_of,
    period_status,
    rate,
)
from tests.billing.engine.factories import A2P, NON_CONV, P2A, USA, at, fact

JUNE_30 = datetime(2025, 6, 30, 22, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_sent_in_june_delivered_in_july_is_billed_in_july() -> None:
    late = fact("a1", A2P, 4, base=JUNE_30, delivery_delay=timedelta(hours=3))
    assert late.sent_at.month == 6
    (event,) = rate([late], now=JUNE_30 + timedelta(days=30)).events
    assert event.period == "2025-07"


def test_conversation_belongs_to_the_period_of_its_first_delivery() -> None:
    facts = [fact("a1", A2P, 1, base=JUNE_30), fact("p1", P2A, 3, base=JUNE_30)]
    (event,) = rate(facts, now=JUNE_30 + timedelta(days=30)).events
    assert event.event_type is EventType.A2P_CONVERSATION
    assert event.period == "2025-06"  # opened by a1, delivered 30 June 23:00


def test_period_helpers() -> None:
    assert period_of(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == "2025-12"
    # A non-UTC time is judged in UTC: 1 July 01:00 +02:00 is still 30 June UTC.
    from datetime import timezone

    assert period_of(datetime(2025, 7, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == "2025-06"
    assert period_bounds("2025-12") == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_expired_messages_are_never_billed() -> None:
    facts = [
        fact("a1", A2P, 0, delivery_delay=None, expired=True),
        fact("a2", A2P, 1, delivery_delay=None),  # still being retried
        fact("a3", A2P, 2),
    ]
    now = facts[0].sent_at + timedelta(days=3)
    result = rate(facts, now=now)
    assert [e.message_ids for e in result.events] == [("a3",)]
    assert (result.stats.expired, result.stats.pending, result.stats.delivered) == (1, 1, 1)


def test_undelivered_after_30_days_counts_as_expired() -> None:
    pending = fact("a1", A2P, 0, delivery_delay=None)
    assert rate([pending], now=pending.sent_at + timedelta(days=30) - SECOND).stats.pending == 1
    assert rate([pending], now=pending.sent_at + timedelta(days=30)).stats.expired == 1


def test_an_expired_message_cannot_open_a_conversation() -> None:
    facts = [fact("a1", A2P, 0, delivery_delay=None, expired=True), fact("p1", P2A, 1)]
    result = rate(facts, now=facts[1].sent_at + timedelta(days=40))
    assert [(e.event_type, e.message_ids) for e in result.events] == [
        (EventType.P2A_MESSAGE, ("p1",))
    ]


@pytest.mark.parametrize(
    ("delivered", "sent_offset", "expired"),
    [
        pytest.param(0, timedelta(hours=1), False, id="delivered before sent"),
        pytest.param(0, -timedelta(days=31), False, id="delivered after the 30-day expiry"),
        pytest.param(0, timedelta(0), True, id="delivered and expired"),
    ],
)
def test_inconsistent_delivery_is_an_error(
    delivered: int, sent_offset: timedelta, expired: bool
) -> None:
    with pytest.raises(InvalidFactError):
        fact("a1", A2P, delivered, delivery_delay=-sent_offset, expired=expired)


def test_conversation_is_provisional_until_two_days_after_its_end() -> None:
    facts = [fact("a1", A2P, 0), fact("p1", P2A, 1)]
    end = at(facts[1]) + timedelta(hours=24)
    before = rate(facts, now=end + timedelta(days=2) - SECOND).events[0]
    after = rate(facts, now=end + timedelta(days=2)).events[0]
    assert before.status is EventStatus.PROVISIONAL
    assert after.status is EventStatus.FINAL
    assert before.final_at == after.final_at == end + timedelta(days=2)
    assert before.end == end


def test_standalone_event_of_conversational_agent_waits_for_a_possible_reply() -> None:
    (event,) = rate([fact("a1", A2P, 0)], now=at(fact("a1"))).events
    assert event.status is EventStatus.PROVISIONAL
    assert event.final_at == event.start + timedelta(hours=24, days=2)


@pytest.mark.parametrize("customer", ["+919876543210", USA])
def test_per_message_events_are_final_once_delivered(customer: str) -> None:
    message = fact("a1", A2P, 0, category=NON_CONV, customer=customer)
    before = rate([message], now=at(message) - SECOND).events[0]
    assert before.status is EventStatus.PROVISIONAL
    assert rate([message], now=at(message)).events[0].status is EventStatus.FINAL


JULY_END = datetime(2025, 8, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "pending", "expected"),
    [
        pytest.param(datetime(2025, 7, 20, tzinfo=UTC), False, "open", id="mid-month"),
        pytest.param(JULY_END - SECOND, False, "open", id="last second of the month"),
        pytest.param(JULY_END, False, "provisional", id="month over, finalising"),
        pytest.param(JULY_END + timedelta(days=2) - SECOND, False, "provisional", id="day 2"),
        pytest.param(JULY_END + timedelta(days=2), False, "final", id="after finalisation"),
        pytest.param(JULY_END + timedelta(days=9), True, "provisional", id="events pending"),
    ],
)
def test_a_period_is_final_only_after_its_last_day_and_two_days(
    now: datetime, pending: bool, expected: str
) -> None:
    assert period_status("2025-07", now, events_pending=pending) is PeriodStatus(expected)


def test_period_edges() -> None:
    assert period_bounds("9999-12")[1] > datetime(9999, 12, 31, tzinfo=UTC)
    assert period_status("9999-12", JULY_END, events_pending=False) is PeriodStatus.OPEN
    assert period_status("9999-11", JULY_END, events_pending=False) is PeriodStatus.OPEN
    assert period_status("0001-01", JULY_END, events_pending=False) is PeriodStatus.FINAL
    assert [is_period(p) for p in ("2025-07", "2025-13", "0000-01", "\uff12025-07", "2025-7")] == [
        True,
        False,
        False,
        False,
        False,
    ]
