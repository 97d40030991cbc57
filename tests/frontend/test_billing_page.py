"""The console's billing page and the encryption-health panel, by role."""

import datetime as dt

import pytest

from billing.actions import do_ingest_facts
from billing.engine import BillingCategory, Content, Direction, MessageFact

pytestmark = pytest.mark.django_db


def _fact(mid: str, at: dt.datetime) -> MessageFact:
    return MessageFact(
        message_id=mid,
        business_id="b",
        agent_id="a",
        agent_category=BillingCategory.NON_CONVERSATIONAL,
        customer="+919876543210",
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
    assert "0.02 USD" in html  # 3 x 0.0050, rounded once on the line
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
    assert "non-negative" in bad.content.decode()
    assert not RateCardRow.objects.filter(business=business).exists()
    assert admin.post("/billing/rate-card/", {"csv": good}).status_code == 302
    assert list(RateCardRow.objects.filter(business=business).values_list("item", flat=True)) == [
        "marketing"
    ]
    download = admin.get("/billing/rate-card.csv")
    assert download["Content-Type"] == "text/csv"
    assert b"IN,marketing,USD,0.0040,2026-01-01" in download.content
