"""The console's Customers page: a developer's simulated customers, their form errors (never a
500, with or without a fleet), tenant isolation, and — with the real fleet — creating a
customer, sending as it, going offline and reading, all through the relay."""

from __future__ import annotations

from typing import Any

import pytest

from e2ee.actions import do_create_device
from e2ee.handsets.actions import do_enlist_handset
from e2ee.handsets.control import FleetControl
from e2ee.handsets.models import FleetHandset
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging.actions import do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.conftest import _free_port
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.handsets.conftest import handset_fleet, wait_for  # noqa: F401
from tests.frontend.helpers import by_testid, field_error
from tests.parley.messaging.test_spine_live import serve, status_of


def business_number(business: Any, e164: str = "+14155550777") -> PhoneNumber:
    return PhoneNumber.objects.create(
        business=business, e164=e164, country="US", display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip


@pytest.mark.django_db
def test_the_page_lists_only_this_business_customers_and_shows_form_errors(
    factory: Any, console_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_FLEET_URL", f"http://127.0.0.1:{_free_port()}")  # no fleet
    business, rival = factory.business(), factory.business("Rival")
    business_number(business)
    do_enlist_handset(do_create_device("+919820011111"), business_id=business.pk, online=False)
    do_enlist_handset(do_create_device("+919820022222"), business_id=rival.pk)
    client = console_client.as_(factory.staff(business, "developer"))

    html = client.get("/customers/").content.decode()
    assert "+919820011111" in html and "+919820022222" not in html
    assert by_testid(html, "customer-state") == ["offline"]

    response = client.post("/customers/", {"phone_number": "12ab", "language": "english"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "language code" in field_error(page, "language")
    response = client.post("/customers/", {"phone_number": "+91 98200 33333", "language": "en_US"})
    assert response.status_code == 200
    assert "handset fleet is not running" in response.content.decode()
    assert FleetHandset.objects.count() == 2

    assert client.get("/customers/+919820022222/").status_code == 404  # the rival's
    assert client.get("/customers/+919820099999/").status_code == 404  # nobody's
    detail = client.get("/customers/+919820011111/")
    assert detail.status_code == 200
    body = detail.content.decode()
    assert 'data-testid="send-text"' in body and 'data-testid="go-online"' in body
    assert 'data-testid="fleet-error"' in body and "handset fleet is not running" in body
    sent = client.post("/customers/+919820011111/", {"op": "text", "to": "+14155550777",
                                                     "body": "hi"})  # fmt: skip
    assert sent.status_code == 200 and "handset fleet is not running" in sent.content.decode()
    bad = client.post(
        "/customers/+919820011111/",
        {"op": "location", "to": "+14155550777", "latitude": "95", "longitude": "0"},
    )
    assert bad.status_code == 200
    assert "less than or equal to 90" in field_error(bad.content.decode(), "latitude")
    not_a_link = {"op": "text", "to": "+14155550777", "body": "hi", "ad_url": "not a link"}
    no_ad = client.post("/customers/+919820011111/", not_a_link)
    assert "valid URL" in field_error(no_ad.content.decode(), "ad_url")


@pytest.mark.django_db(transaction=True)
def test_a_developer_drives_a_customer_through_the_page(
    factory: Any,
    console_client: Any,
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_FLEET_URL", handset_fleet.url)
    business = factory.business("Shop", country="US")
    number = business_number(business, "+14155550778")
    serve(number, factory, asgi_server)
    client = console_client.as_(factory.staff(business, "developer"))
    customer = new_handset_number()

    created = client.post("/customers/", {"phone_number": customer, "language": "en_US",
                                          "online": "on"})  # fmt: skip
    assert created.status_code == 302, created.content.decode()[-2000:]
    page = created["Location"]
    assert page == f"/customers/{customer}/"
    wait_for(lambda: handset_fleet.get(customer)["connected"], what="the phone's websocket")

    client.post(page, {"op": "text", "to": number.e164, "body": "Is my order ready?",
                       "ad_url": "https://fb.me/spring", "ad_headline": "Spring sale"})  # fmt: skip
    client.post(page, {"op": "button", "to": number.e164, "reply_id": "yes", "title": "Yes"})
    rows = wait_for(
        lambda: (
            list(Message.objects.filter(direction="inbound", business=business).order_by("id"))
            if Message.objects.filter(direction="inbound", business=business).count() == 2
            else None
        ),
        what="both messages",
    )
    assert rows[0].content["body"] == "Is my order ready?"
    # From an ad: a free entry point, which the business's answer below opens.
    assert rows[0].content["referral"]["source_url"] == "https://fb.me/spring"
    assert rows[0].content["referral"]["headline"] == "Spring sale"
    assert rows[0].conversation.entry_point_at == rows[0].received_at
    assert rows[1].content == {"type": "interactive_reply", "id": "yes", "title": "Yes"}

    assert client.post(page, {"op": "offline"}).status_code == 302
    assert by_testid(client.get(page).content.decode(), "customer-state") == ["offline"]
    ours = do_send_message(number, customer, Text("Ready for pickup"))
    assert ours.free_entry_until is not None  # answered in time: free for 72 h
    wait_for(lambda: status_of(ours) == "sent", what="sent")
    assert client.post(page, {"op": "online"}).status_code == 302
    wait_for(lambda: status_of(ours) == "delivered", what="delivered")
    assert "Ready for pickup" in by_testid(client.get(page).content.decode(), "inbox-body")
    assert client.post(page, {"op": "read"}).status_code == 302
    wait_for(lambda: status_of(ours) == "read", what="read")

    # The customer blocks businesses from the page, and unblocks them.
    assert client.post(page, {"op": "block"}).status_code == 302
    blocked = client.get(page).content.decode()
    assert by_testid(blocked, "customer-blocks") and 'data-testid="unblock"' in blocked
    assert FleetHandset.objects.get(device__e164=customer).blocks_businesses is True
    assert client.post(page, {"op": "unblock"}).status_code == 302
    assert not by_testid(client.get(page).content.decode(), "customer-blocks")
