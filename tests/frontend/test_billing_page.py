"""The console's billing page and the encryption-health panel, by role."""

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.conf import settings

from billing.actions import do_ingest_facts, do_replace_rate_card
from billing.engine import BillingCategory, Content, Direction, MessageFact
from tests.conftest import verified_session

pytestmark = pytest.mark.django_db


def _fact(mid: str, at: dt.datetime, customer: str = "+919876543210") -> MessageFact:
    return MessageFact(
        message_id=mid,
        business_id="b",
        agent_id="a",
        agent_category=BillingCategory.NON_CONVERSATIONAL,
        customer=customer,
        direction=Direction.A2P,
        content=Content.RICH_CARD,
        sent_at=at,
        delivered_at=at,
    )


def test_billing_page_by_role(console_client, factory, frozen_clock) -> None:
    business = factory.business()
    frozen_clock.set(dt.datetime(2026, 5, 20, tzinfo=dt.UTC))
    do_ingest_facts(
        business, [_fact(f"m{i}", dt.datetime(2026, 5, 1 + i, tzinfo=dt.UTC)) for i in range(3)]
    )
    for role, allowed in (("administrator", True), ("developer", True), ("agent", False),
                          ("supervisor", False), ("compliance_officer", False)):  # fmt: skip
        client = console_client.as_(factory.staff(business, role))
        response = client.get("/billing/?period=2026-05")
        assert response.status_code == (200 if allowed else 403), role
    page = response = console_client.as_(factory.staff(business, "developer")).get(
        "/billing/?period=2026-05"
    )
    html = page.content.decode()
    assert "single_message" in html
    assert "0.0150 USD" in html  # 3 x 0.0050 on the line, exact
    assert 'data-testid="invoice-total">0.02 USD<' in html  # rounded once, on the total
    estimate = console_client.get(
        "/billing/?volume=1000&countries=US,+IN&categories=marketing"
    ).content.decode()
    assert 'data-testid="estimate-total">13.00<' in estimate
    bad = console_client.get("/billing/?volume=1000&countries=USA&categories=marketing")
    assert "two-letter country codes" in bad.content.decode()


def test_dashboard_shows_encryption_health_to_administrators_only(console_client, factory) -> None:
    business = factory.business()
    admin_page = console_client.as_(factory.staff(business, "administrator")).get("/")
    assert 'data-testid="e2ee-health"' in admin_page.content.decode()
    dev_page = console_client.as_(factory.staff(business, "developer")).get("/")
    assert 'data-testid="e2ee-health"' not in dev_page.content.decode()


def test_administrators_replace_the_rate_card_in_the_console(console_client, factory) -> None:
    from billing.models import RateCardRow

    business = factory.business()
    good = "country,item,currency,unit_price,effective_from\nIN,marketing,USD,0.0040,2026-01-01\n"
    dev = console_client.as_(factory.staff(business, "developer"))
    assert 'action="/billing/rate-card/"' not in dev.get("/billing/").content.decode()
    assert dev.post("/billing/rate-card/", {"csv": good}).status_code == 403
    admin = console_client.as_(factory.staff(business, "administrator"))
    bad = admin.post("/billing/rate-card/", {"csv": good.replace("0.0040", "-1")})
    assert bad.status_code == 400
    assert "Rate card row 1: the unit price -1 is negative" in html.unescape(bad.content.decode())
    assert not RateCardRow.objects.filter(business=business).exists()
    assert admin.post("/billing/rate-card/", {"csv": good}).status_code == 302
    assert list(RateCardRow.objects.filter(business=business).values_list("item", flat=True)) == [
        "marketing"
    ]
    download = admin.get("/billing/rate-card.csv")
    assert download["Content-Type"] == "text/csv"
    assert b"IN,marketing,USD,0.0040,2026-01-01" in download.content


HEADER = "country,item,currency,unit_price,effective_from\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "country,item,unit_price,effective_from\nIN,sms,0.05,2026-01-01\n",
            "Rate card header: the column 'currency' is missing",
        ),
        (
            HEADER + "IN,sms,USD,abc,2026-01-01\n",
            "Rate card row 1: the unit price 'abc' is not a decimal amount",
        ),
        (
            HEADER + "ZZ,sms,USD,0.05,2026-01-01\n",
            "Rate card row 1: the country 'ZZ' is not an ISO 3166-1 alpha-2",
        ),
        (
            HEADER + "IN,sms,USD,0.05,1/1/2026\n",
            "Rate card row 1: effective_from '1/1/2026' is not a date",
        ),
        ("# nothing here\n", "The rate card is empty"),
    ],
    ids=["missing column", "bad number", "unknown country", "bad date", "empty"],
)
def test_a_malformed_rate_card_is_explained_in_the_console(
    console_client: Any, factory: Any, text: str, words: str
) -> None:
    from billing.models import RateCardRow

    business = factory.business()
    admin = console_client.as_(factory.staff(business, "administrator"))
    response = admin.post("/billing/rate-card/", {"csv": text})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    errors = re.search(r'<div class="errors" role="alert">(.*?)</div>', page, re.S)
    assert errors is not None
    assert words in errors.group(1)
    assert "KeyError" not in page and "<class" not in errors.group(1)
    assert not RateCardRow.objects.filter(business=business).exists()


def test_the_console_refuses_unknown_countries_in_an_estimate(
    console_client: Any, factory: Any
) -> None:
    client = console_client.as_(factory.staff(factory.business(), "developer"))
    page = client.get(
        "/billing/?volume=1000&countries=US,+ZZ&categories=marketing"
    ).content.decode()
    assert "Unknown country code: ZZ" in page
    assert 'data-testid="estimate-total"' not in page


def test_the_current_month_is_labelled_open_not_final(
    console_client: Any, factory: Any, frozen_clock: Any
) -> None:
    business = factory.business()
    frozen_clock.set(dt.datetime(2026, 5, 20, tzinfo=dt.UTC))
    do_ingest_facts(business, [_fact("m1", dt.datetime(2026, 5, 2, tzinfo=dt.UTC))])
    client = console_client.as_(factory.staff(business, "developer"))

    def badge() -> str:
        page = client.get("/billing/?period=2026-05").content.decode()
        found = re.search(r'data-testid="period-status"[^>]*>(\w+)<', page)
        assert found is not None
        return found.group(1)

    assert badge() == "open"
    frozen_clock.set(dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
    assert badge() == "provisional"
    frozen_clock.set(dt.datetime(2026, 6, 3, tzinfo=dt.UTC))
    assert badge() == "final"


def test_the_console_and_the_rest_invoice_agree_to_the_sub_cent(
    client: Any, console_client: Any, factory: Any, frozen_clock: Any
) -> None:
    business = factory.business()
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=dt.UTC))
    customers = {"BR": "+5511987654321", "GB": "+447700900123", "IN": "+919876543210"}
    do_replace_rate_card(
        None,
        business,
        HEADER + "".join(f"{c},single_message,USD,0.0035,2026-01-01\n" for c in customers),
    )
    at = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    do_ingest_facts(business, [_fact(c, at, customer=n) for c, n in customers.items()])
    developer = factory.staff(business, "developer")
    client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(developer)
    rest = client.get("/parley/v1/billing/invoices/2026-06").json()
    page = console_client.as_(developer).get("/billing/?period=2026-06").content.decode()
    shown_lines = re.findall(r'data-testid="line-total">([0-9.]+) (\w+)<', page)
    assert shown_lines == [(ln["total"], ln["currency"]) for ln in rest["lines"]]
    assert shown_lines == [("0.0035", "USD")] * 3
    shown_total = re.findall(r'data-testid="invoice-total">([0-9.]+) (\w+)<', page)
    assert shown_total == [(amount, c) for c, amount in rest["totals"].items()] == [("0.01", "USD")]
    exact = re.findall(r'data-testid="invoice-exact-total">([0-9.]+)<', page)
    assert exact == list(rest["exact_totals"].values()) == ["0.0105"]
    assert rest["rounding"] in html.unescape(page)


@pytest.mark.parametrize("period", ["0000-01", "\uff12\uff10\uff12\uff16-05", "2026-5", "9999-12"])
def test_odd_periods_never_break_the_page(
    console_client: Any, factory: Any, frozen_clock: Any, period: str
) -> None:
    frozen_clock.set(dt.datetime(2026, 5, 20, tzinfo=dt.UTC))
    client = console_client.as_(factory.staff(factory.business(), "developer"))
    response = client.get("/billing/", {"period": period})
    assert response.status_code == 200
    shown = "9999-12" if period == "9999-12" else "2026-05"  # else: the current month
    assert f"Invoice {shown} " in response.content.decode()
