"""Billing at its edges: unknown countries refused wherever they enter, a month labelled by
where it stands on the simulation clock, sub-cent money kept exact until the total, and
malformed rate cards explained in words."""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.actions import do_ingest_facts, do_record_facts, do_replace_rate_card
from billing.engine import BillingCategory, Content, Direction, MessageFact
from billing.models import MessageFactRecord, RateCardRow
from parley.core.errors import InvalidParameter
from tests.conftest import verified_session

pytestmark = pytest.mark.django_db
UTC = dt.UTC
HEADER = "country,item,currency,unit_price,effective_from\n"
# One customer per country, for three lines of one price each.
CUSTOMERS = {"BR": "+5511987654321", "GB": "+447700900123", "IN": "+919876543210"}


def a2p(mid: str, at: dt.datetime, customer: str = CUSTOMERS["IN"]) -> MessageFact:
    return MessageFact(
        message_id=mid,
        business_id="b",
        agent_id="agent-1",
        agent_category=BillingCategory.NON_CONVERSATIONAL,
        customer=customer,
        direction=Direction.A2P,
        content=Content.TEXT,
        sent_at=at,
        delivered_at=at,
        text_bytes=20,
    )


@pytest.fixture
def business(factory: Any) -> Any:
    return factory.business()


@pytest.fixture
def admin(client: Any, business: Any, factory: Any) -> Any:
    client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(
        factory.staff(business, "administrator")
    )
    return client


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == 100
    assert set(error) >= {"message", "type", "code", "fbtrace_id"}
    return dict(error)


# Unknown countries


@pytest.mark.parametrize("countries", [["US", "ZZ"], ["zz"], ["IN", "XX", "ZZ"]])
def test_the_estimate_api_refuses_unknown_countries(admin: Any, countries: list[str]) -> None:
    body = {"volume": 100, "countries": countries, "categories": ["marketing"]}
    error = _error(
        admin.post("/parley/v1/billing/estimates", body, content_type="application/json")
    )
    assert "countries" in error["message"]
    assert "ZZ" in error["message"]
    assert "ISO 3166-1 alpha-2" in error["message"]


def test_a_rate_card_row_for_an_unknown_country_is_refused(admin: Any, business: Any) -> None:
    text = HEADER + "IN,marketing,USD,0.0045,2026-01-01\nZZ,marketing,USD,0.0100,2026-01-01\n"
    response = admin.put(
        "/parley/v1/billing/rate-card", {"csv": text}, content_type="application/json"
    )
    error = _error(response)
    assert "row 2: the country 'ZZ' is not an ISO 3166-1 alpha-2 country code" in error["message"]
    assert not RateCardRow.objects.filter(business=business).exists()


def test_facts_for_numbers_without_a_country_are_refused(business: Any, tmp_path: Path) -> None:
    at = dt.datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(InvalidParameter, match="Message x1: customer number '\\+999123'"):
        do_record_facts(business, [a2p("x1", at, customer="+999123")])
    assert not MessageFactRecord.objects.exists()
    facts = tmp_path / "facts.jsonl"
    facts.write_text(
        '{"message_id": "x2", "agent_id": "a", "agent_category": "CONVERSATIONAL", '
        '"customer": "+999123", "direction": "A2P", "content": "text", '
        '"sent_at": "2026-05-01T00:00:00+00:00", "delivered_at": "2026-05-01T00:00:00+00:00"}\n'
    )
    with pytest.raises(CommandError, match="line 1: customer number '\\+999123'"):
        call_command("load_billing_facts", business.slug, str(facts))
    assert not MessageFactRecord.objects.exists()


# The period's label


def test_a_month_is_open_then_provisional_then_final(
    admin: Any, business: Any, frozen_clock: Any
) -> None:
    # Per-message events are final at delivery: only the calendar can hold the month open.
    frozen_clock.set(dt.datetime(2026, 5, 20, tzinfo=UTC))
    do_ingest_facts(
        business, [a2p(f"m{i}", dt.datetime(2026, 5, 1 + i, tzinfo=UTC)) for i in range(3)]
    )

    def labels() -> tuple[Any, ...]:
        usage = admin.get("/parley/v1/billing/usage?period=2026-05").json()
        invoice = admin.get("/parley/v1/billing/invoices/2026-05").json()
        return usage["status"], usage["final"], invoice["status"], invoice["final"]

    assert labels() == ("open", False, "open", False)
    frozen_clock.set(dt.datetime(2026, 6, 1, tzinfo=UTC))  # the month is over
    assert labels() == ("provisional", False, "provisional", False)
    frozen_clock.set(dt.datetime(2026, 6, 3, tzinfo=UTC) - dt.timedelta(microseconds=1))
    assert labels()[0] == "provisional"
    frozen_clock.set(dt.datetime(2026, 6, 3, tzinfo=UTC))  # last day + 2 days
    assert labels() == ("final", True, "final", True)


def test_a_month_with_a_provisional_conversation_is_not_final(
    admin: Any, business: Any, frozen_clock: Any
) -> None:
    frozen_clock.set(dt.datetime(2026, 6, 3, tzinfo=UTC))
    last_day = dt.datetime(2026, 5, 31, 22, tzinfo=UTC)
    pair = [
        MessageFact(
            message_id=mid,
            business_id="b",
            agent_id="agent-c",
            agent_category=BillingCategory.CONVERSATIONAL,
            customer=CUSTOMERS["IN"],
            direction=direction,
            content=Content.TEXT,
            sent_at=at,
            delivered_at=at,
        )
        for mid, direction, at in (
            ("c1", Direction.A2P, last_day),
            ("c2", Direction.P2A, last_day + dt.timedelta(hours=20)),  # 1 June 18:00
        )
    ]
    do_ingest_facts(business, pair)
    # The conversation ends 2 June 18:00 and is final 4 June 18:00: May waits for it.
    body = admin.get("/parley/v1/billing/invoices/2026-05").json()
    assert (body["status"], body["final"]) == ("provisional", False)


# Money


def test_sub_cent_lines_are_exact_and_the_total_is_rounded_once(
    admin: Any, business: Any, frozen_clock: Any
) -> None:
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
    card = HEADER + "".join(f"{c},basic_message,USD,0.0035,2026-01-01\n" for c in CUSTOMERS)
    do_replace_rate_card(None, business, card)
    at = dt.datetime(2026, 6, 2, tzinfo=UTC)
    do_ingest_facts(business, [a2p(c, at, customer=n) for c, n in CUSTOMERS.items()])
    body = admin.get("/parley/v1/billing/invoices/2026-06").json()
    assert [(ln["country"], ln["unit_price"], ln["total"]) for ln in body["lines"]] == [
        ("BR", "0.0035", "0.0035"),
        ("GB", "0.0035", "0.0035"),
        ("IN", "0.0035", "0.0035"),
    ]
    assert body["exact_totals"] == {"USD": "0.0105"}
    assert body["totals"] == {"USD": "0.01"}  # not 0.00: the lines are added before rounding
    assert "rounded half up" in body["rounding"]
    usage = admin.get("/parley/v1/billing/usage?period=2026-06").json()
    assert usage["totals"] == {"USD": "0.01"}
    assert sum(Decimal(ln["total"]) for ln in body["lines"]) == Decimal("0.0105")


# Malformed rate cards, in words


MALFORMED = [
    pytest.param(
        "country,item,unit_price,effective_from\nIN,marketing,0.0045,2026-01-01\n",
        "the column 'currency' is missing",
        id="missing column",
    ),
    pytest.param(
        HEADER + "IN,marketing,USD,cheap,2026-01-01\n",
        "the unit price 'cheap' is not a decimal amount",
        id="bad number",
    ),
    pytest.param(
        HEADER + "IN,marketing,USD,-0.01,2026-01-01\n",
        "the unit price -0.01 is negative",
        id="negative rate",
    ),
    pytest.param(
        HEADER + "ZZ,marketing,USD,0.01,2026-01-01\n",
        "the country 'ZZ' is not an ISO 3166-1 alpha-2",
        id="unknown country",
    ),
    pytest.param(
        HEADER + "IN,marketing,USD,0.01,2026-02-30\n",
        "effective_from '2026-02-30' is not a date",
        id="bad date",
    ),
    pytest.param("", "is empty", id="empty file"),
    pytest.param(
        "<html><body>rates</body></html>\n", "the first line must name the columns", id="not CSV"
    ),
]


@pytest.mark.parametrize(("text", "words"), MALFORMED)
def test_the_rate_card_api_says_what_is_wrong(
    admin: Any, business: Any, text: str, words: str
) -> None:
    response = admin.put(
        "/parley/v1/billing/rate-card", {"csv": text}, content_type="application/json"
    )
    if text == "":
        # An empty string is refused by the request's own validation, naming the field.
        assert "csv" in _error(response)["message"]
        return
    message = _error(response)["message"]
    assert words in message
    assert "Error" not in message  # no exception class names


@pytest.mark.parametrize(("text", "words"), MALFORMED)
def test_the_rate_card_command_says_what_is_wrong(
    business: Any, tmp_path: Path, text: str, words: str
) -> None:
    card = tmp_path / "card.csv"
    card.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("load_rate_card", business.slug, str(card))
    assert words in str(caught.value)
    assert not RateCardRow.objects.filter(business=business).exists()


def test_a_rate_card_that_is_not_utf8_is_explained(business: Any) -> None:
    with pytest.raises(InvalidParameter, match="The rate card is not UTF-8 text"):
        do_replace_rate_card(None, business, HEADER.encode() + b"IN,marketing,USD,0.01,\xff\n")


def test_periods_at_the_ends_of_the_calendar(admin: Any, frozen_clock: Any) -> None:
    frozen_clock.set(dt.datetime(2026, 5, 20, tzinfo=UTC))
    far = admin.get("/parley/v1/billing/usage?period=9999-12")
    assert far.status_code == 200
    assert far.json()["status"] == "open"
    assert admin.get("/parley/v1/billing/invoices/9999-12").json()["status"] == "open"
    for path in ("/parley/v1/billing/usage?period=0000-01", "/parley/v1/billing/invoices/0000-01"):
        assert "period" in _error(admin.get(path))["message"]
