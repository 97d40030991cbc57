"""Rate cards (effective dates, fallbacks), invoice rounding and the campaign estimator."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.engine import (
    BillableEvent,
    Channel,
    EstimateError,
    InvalidRateCardError,
    RateCard,
    RateNotFoundError,
    RateRow,
    UnknownCountryError,
    WaCategory,
    build_invoice,
    estimate_campaign,
    load_default_rate_card,
    parse_rate_csv,
    price,
    rate,
    round_money,
)
from tests.billing.engine.factories import A2P, LATER, NON_CONV, P2A, USA, fact

D = Decimal


def row(country: str, item: str, unit: str, since: date, currency: str = "USD") -> RateRow:
    return RateRow(country, item, currency, D(unit), since)


CARD = RateCard(
    (
        row("IN", "basic_message", "0.0020", date(2024, 1, 1)),
        row("IN", "basic_message", "0.0025", date(2025, 3, 1)),
        row("*", "basic_message", "0.0060", date(2024, 1, 1)),
        row("US", "a2p_rich_message", "0.0030", date(2024, 1, 1)),
        row("IN", "marketing", "0.0045", date(2024, 1, 1)),
        row("IN", "utility", "0.0014", date(2024, 1, 1)),
        row("JP", "basic_message", "1.5", date(2024, 1, 1), currency="JPY"),
    )
)


def basic_event(at: datetime, customer: str = "+919876543210") -> BillableEvent:
    message = fact("a1", A2P, 0, base=at, customer=customer)
    return rate([message], now=LATER).events[0]


def test_price_uses_the_row_effective_on_the_delivery_date() -> None:
    old = price(basic_event(datetime(2025, 2, 28, 23, 59, tzinfo=UTC)), CARD)
    new = price(basic_event(datetime(2025, 3, 1, 0, 0, tzinfo=UTC)), CARD)
    assert (old.unit_price, new.unit_price) == (D("0.0020"), D("0.0025"))


def test_price_falls_back_to_the_default_country() -> None:
    priced = price(basic_event(datetime(2025, 1, 5, tzinfo=UTC), customer="+5511987654321"), CARD)
    assert priced.unit_price == D("0.0060")


def test_price_before_any_row_is_an_error() -> None:
    with pytest.raises(RateNotFoundError):
        price(basic_event(datetime(2023, 12, 31, tzinfo=UTC)), CARD)
    with pytest.raises(RateNotFoundError):
        CARD.lookup("IN", "p2a_message", date(2025, 1, 1))


def test_us_rich_messages_are_priced_per_segment() -> None:
    message = fact("a1", customer=USA, text_bytes=400, base=datetime(2025, 1, 5, tzinfo=UTC))
    priced = price(rate([message], now=LATER).events[0], CARD)
    assert (priced.quantity, priced.amount) == (3, D("0.0090"))


def test_free_events_cost_nothing() -> None:
    wa = [
        fact("c1", P2A, 0, channel=Channel.WHATSAPP, base=datetime(2025, 7, 2, tzinfo=UTC)),
        fact(
            "u1",
            A2P,
            1,
            channel=Channel.WHATSAPP,
            template=WaCategory.UTILITY,
            base=datetime(2025, 7, 2, tzinfo=UTC),
        ),
    ]
    (event,) = rate(wa, now=LATER).events
    priced = price(event, CARD)
    assert not event.chargeable
    assert (priced.unit_price, priced.currency) == (D(0), "USD")


@pytest.mark.parametrize(
    ("country", "item", "currency", "unit"),
    [
        ("India", "basic_message", "USD", "0.01"),
        ("IN", "", "USD", "0.01"),
        ("IN", "basic_message", "usd", "0.01"),
        ("IN", "basic_message", "USD", "-0.01"),
        ("IN", "basic_message", "USD", "0.00001"),
        ("IN", "basic_message", "USD", "NaN"),
        ("ZZ", "basic_message", "USD", "0.01"),  # ISO's "unknown", not a country
        ("XX", "basic_message", "USD", "0.01"),
        ("IN", "marketting", "USD", "0.01"),
        ("IN", "basic_message", "USD", "100000000"),
    ],
)
def test_invalid_rows(country: str, item: str, currency: str, unit: str) -> None:
    with pytest.raises(InvalidRateCardError):
        RateRow(country, item, currency, D(unit), date(2024, 1, 1))


def test_duplicate_dates_are_rejected() -> None:
    same = row("IN", "basic_message", "0.0020", date(2024, 1, 1))
    with pytest.raises(InvalidRateCardError):
        RateCard((same, replace(same, unit_price=D("0.0030"))))


HEADER = "country,item,currency,unit_price,effective_from\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "country,item,unit_price,effective_from\nIN,marketing,0.01,2024-01-01\n",
            "rate card header: the column 'currency' is missing",
            id="missing column",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,abc,2024-01-01\n",
            "rate card row 1: the unit price 'abc' is not a decimal amount",
            id="bad number",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.004,2024-01-01\nIN,utility,USD,-1,2024-01-01\n",
            "rate card row 2: the unit price -1 is negative",
            id="negative rate",
        ),
        pytest.param(
            HEADER + "ZZ,marketing,USD,0.01,2024-01-01\n",
            "rate card row 1: the country 'ZZ' is not an ISO 3166-1 alpha-2 country code",
            id="unknown country",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.01,2024-13-01\n",
            "rate card row 1: effective_from '2024-13-01' is not a date in the form YYYY-MM-DD",
            id="bad date",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.01,01/02/2024\n",
            "rate card row 1: effective_from '01/02/2024' is not a date",
            id="date in another form",
        ),
        pytest.param("", "the rate card is empty", id="empty file"),
        pytest.param("# only a comment\n\n", "the rate card is empty", id="only comments"),
        pytest.param(HEADER, "the rate card has a header line but no rates", id="no rows"),
        pytest.param(
            '{"rates": [1, 2]}\n',
            "rate card header: the first line must name the columns "
            "country,item,currency,unit_price,effective_from",
            id="not CSV",
        ),
        pytest.param(
            b"country,item,currency,unit_price,effective_from\n\xff\xfe,x\n",
            "the rate card is not UTF-8 text (byte 0xff at position 48)",
            id="not UTF-8",
        ),
        pytest.param(
            "%PDF-1.4\x00\x01binary", "the rate card contains NUL characters", id="binary"
        ),
        pytest.param(
            HEADER + 'IN,"marketing,USD,0.01,2024-01-01\n',
            "rate card line 2: this is not valid CSV",
            id="unclosed quote",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.01\n",
            "rate card row 1: it has 4 values, but the header names 5 columns",
            id="short row",
        ),
        pytest.param(
            HEADER + "IN,marketing,,0.01,2024-01-01\n",
            "rate card row 1: the value of 'currency' is missing",
            id="empty value",
        ),
        pytest.param(
            HEADER + "IN,marketing,usd,0.01,2024-01-01\n",
            "rate card row 1: the currency 'usd' is not an ISO 4217 code",
            id="bad currency",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.00001,2024-01-01\n",
            "rate card row 1: the unit price 0.00001 has more than 4 decimals",
            id="too precise",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,\u0660.\u0665,2024-01-01\n",  # Arabic-Indic digits
            "rate card row 1: the unit price",
            id="non-ASCII digits",
        ),
        pytest.param(
            HEADER + "IN,marketing,USD,0.01,2024-01-01\nIN,marketing,USD,0.02,2024-01-01\n",
            "the rate card gives IN marketing two rates from the same date",
            id="two rates for one date",
        ),
    ],
)
def test_malformed_rate_cards_are_explained_in_words(text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidRateCardError) as caught:
        parse_rate_csv(text)
    assert str(caught.value).startswith(message), str(caught.value)
    # Never a Python repr of an exception: no bare quoted key, no exception class names.
    assert "KeyError" not in str(caught.value)
    assert "ConversionSyntax" not in str(caught.value)


def test_rate_card_csv_tolerates_comments_bom_spaces_and_column_order() -> None:
    card = parse_rate_csv(
        "\ufeff# a comment\n Item , country,currency,unit_price,effective_from\n"
        "\nmarketing, IN ,USD, 0.0045 ,2024-01-01\n"
    )
    assert card.rows == (row("IN", "marketing", "0.0045", date(2024, 1, 1)),)
    assert parse_rate_csv(HEADER.encode() + b"IN,sms,USD,0.05,2024-01-01\n").rows[0].item == "sms"


def test_default_card() -> None:
    card = load_default_rate_card()
    on = date(2025, 7, 15)
    assert card.lookup("US", "marketing", on).unit_price == D("0.0085")
    assert card.lookup("IN", "marketing", on).unit_price == D("0.0045")
    marketing_countries = {r.country for r in card.rows if r.item == "marketing"} - {
        "*",
        "US",
        "IN",
    }
    assert len(marketing_countries) >= 15
    for r in card.rows:
        if r.item == "sms":
            assert D("0.05") <= r.unit_price <= D("0.10")
    for item in ("basic_message", "single_message", "a2p_conversation", "p2a_conversation"):
        assert card.lookup("IN", item, on).unit_price > 0
    for item in ("a2p_rich_message", "a2p_rich_media_message", "suggested_action_click"):
        assert card.lookup("US", item, on).unit_price > 0
    assert card.lookup("BR", "service", date(2024, 10, 31)).unit_price > 0
    assert card.lookup("BR", "service", date(2024, 11, 1)).unit_price == 0
    assert card.lookup("ZW", "marketing", on).country == "*"
    assert load_default_rate_card() is card  # loaded once


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),  # half up, not half even
        ("0.0049", "USD", "0.00"),
        ("0.015", "USD", "0.02"),
        ("2.5", "JPY", "3"),
        ("1.2345", "BHD", "1.235"),
    ],
)
def test_round_money(amount: str, currency: str, expected: str) -> None:
    assert round_money(D(amount), currency) == D(expected)


def test_invoice_keeps_line_totals_exact_and_rounds_the_total_once() -> None:
    start = datetime(2025, 1, 5, tzinfo=UTC)
    facts = [fact(f"a{i}", A2P, i * 30, base=start, category=NON_CONV) for i in range(3)]
    events = rate(facts, now=LATER).events
    invoice = build_invoice(price(e, CARD) for e in events)
    (line,) = invoice.lines
    # 3 x 0.0020 = 0.0060 exactly on the line; only the amount due is rounded, to 0.01.
    assert (line.country, line.item, line.events, line.quantity) == ("IN", "basic_message", 3, 3)
    assert line.unit_price == D("0.0020")
    assert str(line.total) == "0.0060"
    assert dict(invoice.exact_totals) == {"USD": D("0.0060")}
    assert dict(invoice.totals) == {"USD": D("0.01")}


def test_sub_cent_lines_add_up_before_rounding() -> None:
    # Three lines of 0.0035 USD: a bill of 0.0105, due as 0.01 (rounding each line to
    # cents would show 0.00 three times and bill nothing).
    card = RateCard(
        tuple(row(c, "basic_message", "0.0035", date(2024, 1, 1)) for c in ["BR", "GB", "IN"])
    )
    customers = ("+5511987654321", "+447700900123", "+919876543210")
    facts = [
        fact(f"a{i}", A2P, 0, customer=c, base=datetime(2025, 1, 5, tzinfo=UTC), category=NON_CONV)
        for i, c in enumerate(customers)
    ]
    invoice = build_invoice(price(e, card) for e in rate(facts, now=LATER).events)
    assert [str(ln.total) for ln in invoice.lines] == ["0.0035", "0.0035", "0.0035"]
    assert str(invoice.exact_totals["USD"]) == "0.0105"
    assert str(invoice.totals["USD"]) == "0.01"


def test_invoice_lines_by_country_item_and_price() -> None:
    base = datetime(2025, 2, 27, tzinfo=UTC)
    facts = [
        fact(f"a{i}", A2P, i * 30, base=base, category=NON_CONV)
        for i in range(4)  # 27 Feb, 28 Feb (old price); 1 Mar, 2 Mar (new price)
    ] + [fact("u1", A2P, 0, customer=USA, text_bytes=200, base=base, category=NON_CONV)]
    invoice = build_invoice(price(e, CARD) for e in rate(facts, now=LATER).events)
    summary = [
        (ln.country, ln.item, ln.unit_price, ln.events, ln.quantity, ln.total)
        for ln in invoice.lines
    ]
    assert summary == [
        ("IN", "basic_message", D("0.0020"), 2, 2, D("0.0040")),
        ("IN", "basic_message", D("0.0025"), 2, 2, D("0.0050")),
        ("US", "a2p_rich_message", D("0.0030"), 1, 2, D("0.0060")),
    ]
    assert invoice.exact_totals["USD"] == D("0.0150")
    assert invoice.totals["USD"] == D("0.02")


def test_invoice_in_yen_and_whatsapp_items() -> None:
    jp = fact("j1", A2P, 0, customer="+819012345678", base=datetime(2025, 1, 5, tzinfo=UTC))
    wa = fact(
        "w1",
        A2P,
        0,
        channel=Channel.WHATSAPP,
        template=WaCategory.MARKETING,
        base=datetime(2025, 7, 5, tzinfo=UTC),
    )
    invoice = build_invoice(price(e, CARD) for e in rate([jp, wa], now=LATER).events)
    assert {(ln.item, ln.currency, ln.total) for ln in invoice.lines} == {
        ("basic_message", "JPY", D("1.5")),
        ("whatsapp_message:marketing", "USD", D("0.0045")),
    }
    assert invoice.totals == {"JPY": D("2"), "USD": D("0.00")}
    assert [str(invoice.totals[c]) for c in ("JPY", "USD")] == ["2", "0.00"]


def test_empty_invoice() -> None:
    invoice = build_invoice([])
    assert invoice.lines == ()
    assert dict(invoice.totals) == {}
    assert dict(invoice.exact_totals) == {}


def test_estimate_against_sms() -> None:
    card = load_default_rate_card()
    estimate = estimate_campaign(
        10_000,
        ["US", "IN"],
        [WaCategory.MARKETING, WaCategory.SERVICE],
        card=card,
        on=date(2025, 8, 1),
    )
    costs = {(ln.country, ln.category): (ln.cost, ln.sms_cost) for ln in estimate.lines}
    assert costs[("US", WaCategory.MARKETING)] == (D("85.00"), D("500.00"))
    assert costs[("IN", WaCategory.MARKETING)] == (D("45.00"), D("500.00"))
    assert costs[("US", WaCategory.SERVICE)][0] == D("0.00")
    assert estimate.total == D("130.00")
    assert estimate.sms_total == D("2000.00")
    assert estimate.savings == D("1870.00")
    assert estimate.currency == "USD"


def test_estimate_lines_are_exact_and_the_total_rounded_once() -> None:
    estimate = estimate_campaign(
        1, ["IN", "US"], [WaCategory.MARKETING], card=load_default_rate_card(), on=date(2025, 8, 1)
    )
    assert [str(ln.cost) for ln in estimate.lines] == ["0.0045", "0.0085"]
    assert str(estimate.total) == "0.01"  # 0.0130, rounded half up once


@pytest.mark.parametrize("country", ["ZZ", "XX", "us", "U S", ""])
def test_estimate_refuses_unknown_countries(country: str) -> None:
    with pytest.raises(UnknownCountryError, match="not an ISO 3166-1 alpha-2 country code"):
        estimate_campaign(
            10,
            ["US", country],
            [WaCategory.MARKETING],
            card=load_default_rate_card(),
            on=date(2025, 8, 1),
        )


def test_estimate_with_per_country_volumes() -> None:
    estimate = estimate_campaign(
        {"US": 1000, "BR": 500},
        ["US", "BR"],
        [WaCategory.UTILITY],
        card=load_default_rate_card(),
        on=date(2025, 8, 1),
    )
    assert [ln.messages for ln in estimate.lines] == [1000, 500]
    assert estimate.total == D("4.00") + D("4.00")


@pytest.mark.parametrize(
    ("volume", "countries", "categories"),
    [(10, [], [WaCategory.MARKETING]), (10, ["US"], []), (-1, ["US"], [WaCategory.MARKETING])],
)
def test_estimate_errors(volume: int, countries: list[str], categories: list[WaCategory]) -> None:
    with pytest.raises(EstimateError):
        estimate_campaign(
            volume, countries, categories, card=load_default_rate_card(), on=date(2025, 8, 1)
        )


def test_estimate_rejects_mixed_currencies() -> None:
    card = RateCard(
        (
            row("JP", "marketing", "3", date(2024, 1, 1), currency="JPY"),
            row("JP", "sms", "8", date(2024, 1, 1), currency="JPY"),
            row("US", "marketing", "0.0085", date(2024, 1, 1)),
            row("US", "sms", "0.05", date(2024, 1, 1)),
        )
    )
    with pytest.raises(EstimateError):
        estimate_campaign(1, ["JP", "US"], [WaCategory.MARKETING], card=card, on=date(2025, 1, 1))


def test_estimate_unknown_rate() -> None:
    card = RateCard((row("US", "marketing", "0.0085", date(2024, 1, 1)),))
    with pytest.raises(RateNotFoundError):
        estimate_campaign(1, ["US"], [WaCategory.MARKETING], card=card, on=date(2025, 1, 1))
