"""Batch and streaming entry points, ordering, ids and input errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from billing.engine import (
    KNOWN_COUNTRIES,
    BillingError,
    DuplicateFactError,
    InvalidFactError,
    UnknownCountryError,
    UnsortedFactsError,
    check_country,
    country_of,
    rate,
    rate_stream,
    sort_facts,
    sort_key,
)
from billing.engine.events import event_id
from billing.engine.facts import MessageFact
from tests.billing.engine.factories import A2P, BRAZIL, LATER, P2A, USA, fact, script


def test_stream_equals_batch_on_sorted_input() -> None:
    facts = [*script("a1@0 a2@1 p1@2 p2@40 a3@41"), fact("x1", A2P, 3, customer=USA)]
    ordered = sort_facts(facts)
    assert ordered == sorted(facts, key=sort_key)
    assert list(rate_stream(ordered, now=LATER)) == rate(facts, now=LATER).events


def test_stream_rejects_out_of_order_facts() -> None:
    with pytest.raises(UnsortedFactsError):
        list(rate_stream(script("a1@5 p1@1"), now=LATER))
    other_customer_first = [fact("b", customer=BRAZIL), fact("a", customer=USA)]
    with pytest.raises(UnsortedFactsError):
        list(rate_stream(other_customer_first, now=LATER))


def test_stream_skips_undelivered_facts_anywhere() -> None:
    facts = [fact("a0", A2P, 0.5, delivery_delay=None), *script("a1@0 p1@1")]
    assert [e.message_ids for e in rate_stream(facts, now=LATER)] == [("a1", "p1")]


def test_event_ids_are_deterministic_and_depend_on_type() -> None:
    facts = script("a1@0 p1@1 a2@40")
    ids = [e.event_id for e in rate(facts, now=LATER).events]
    assert ids == [e.event_id for e in rate(list(reversed(facts)), now=LATER).events]
    assert len(set(ids)) == len(ids)
    assert event_id("a1", rate(facts, now=LATER).events[0].event_type) == ids[0]
    assert len(ids[0]) == 24


def test_stats() -> None:
    facts = [*script("a1@0 p1@1"), fact("a9", A2P, 2, delivery_delay=None)]
    stats = rate(facts, now=LATER).stats
    assert (stats.facts, stats.delivered, stats.expired, stats.pending, stats.events) == (
        3,
        2,
        1,
        0,
        1,
    )


def test_now_must_be_aware() -> None:
    with pytest.raises(InvalidFactError):
        rate(script("a1@0"), now=datetime(2030, 1, 1))


def test_country_given_on_the_fact_skips_derivation() -> None:
    overridden = replace(fact("a1"), country="US")
    (event,) = rate([overridden], now=LATER).events
    assert event.country == "US"
    assert event.event_type.value == "a2p_rich_message"


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+12025550123", "US"),
        ("+14165550123", "CA"),
        ("+919876543210", "IN"),
        ("+447700900123", "GB"),
        ("+5511987654321", "BR"),
    ],
)
def test_country_of(number: str, country: str) -> None:
    assert country_of(number) == country


@pytest.mark.parametrize(
    "number", ["919876543210", "+", "+abc", "+999123", "+\u00b9\u00b2\u00b3", "+\uff19\uff11"]
)
def test_bad_numbers(number: str) -> None:
    with pytest.raises(UnknownCountryError):
        country_of(number)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_id": ""},
        {"sent_at": datetime(2025, 6, 1)},
        {"direction": P2A, "content": "rich_card"},
        {"text_bytes": -1},
        {"template_category": "marketing"},  # RCS message with a WhatsApp category
    ],
)
def test_invalid_facts(kwargs: dict[str, object]) -> None:
    from billing.engine import Content, WaCategory

    values = {**_fields(fact("a1")), **kwargs}
    if values["content"] == "rich_card":
        values["content"] = Content.RICH_CARD
    if values["template_category"] == "marketing":
        values["template_category"] = WaCategory.MARKETING
    with pytest.raises(BillingError):
        MessageFact(**values)  # type: ignore[arg-type]


def _fields(message: MessageFact) -> dict[str, object]:
    return {name: getattr(message, name) for name in MessageFact.__dataclass_fields__}


def test_sort_key_needs_a_delivery() -> None:
    with pytest.raises(InvalidFactError):
        sort_key(fact("a1", delivery_delay=None))


def test_rate_accepts_any_iterable() -> None:
    facts = script("a1@0 p1@1")
    assert rate(iter(facts), now=LATER).events == rate(tuple(facts), now=LATER).events


def test_unknown_country_stops_rating() -> None:
    with pytest.raises(UnknownCountryError):
        rate([fact("a1", customer="+999123")], now=datetime(2030, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("country", ["ZZ", "XX", "in", "IND", "", "*"])
def test_a_fact_stating_an_unknown_country_is_refused(country: str) -> None:
    with pytest.raises(UnknownCountryError, match="not an ISO 3166-1 alpha-2 country code"):
        replace(fact("a1"), country=country)
    with pytest.raises(UnknownCountryError):
        check_country(country)


def test_every_country_a_number_can_have_is_known() -> None:
    import phonenumbers

    assert set(phonenumbers.SUPPORTED_REGIONS) <= KNOWN_COUNTRIES
    assert "ZZ" not in KNOWN_COUNTRIES
    assert len(KNOWN_COUNTRIES) == 249 + 3  # ISO 3166-1 alpha-2, and XK, AC, TA
    assert check_country("XK") == "XK"


def test_the_same_fact_twice_is_counted_once() -> None:
    facts = script("a1@0 p1@1 a2@40")
    once = rate(facts, now=LATER)
    twice = rate([*facts, facts[0], replace(facts[1])], now=LATER)  # same object, equal copy
    assert twice.events == once.events
    assert twice.stats == once.stats
    streamed = list(rate_stream(sort_facts([*facts, *facts]), now=LATER))
    assert streamed == once.events


def test_two_different_facts_under_one_id_are_refused() -> None:
    first = fact("m1", A2P, 0)
    redelivered = fact("m1", A2P, 3, delivery_delay=timedelta(hours=3))  # sent at 0 too
    with pytest.raises(DuplicateFactError) as caught:
        rate([first, fact("m2", P2A, 1), redelivered], now=LATER)
    message = str(caught.value)
    assert "message 'm1' is given twice with different facts" in message
    assert "delivered_at" in message
    assert not isinstance(caught.value, UnsortedFactsError)
    # Pending, then delivered, under one id: also two different facts.
    with pytest.raises(DuplicateFactError):
        rate([fact("m1", delivery_delay=None), first], now=LATER)
    # The stream sees an exact repeat or a conflict next to its twin.
    with pytest.raises(DuplicateFactError, match="text_bytes: 20 and 21"):
        list(rate_stream([first, replace(first, text_bytes=21)], now=LATER))
