"""Simulated customers driven through `/parley/v1/simulator/customers` with the real fleet,
relay, workers and the business number's endpoint: what a customer does arrives encrypted
and becomes the right `message.received` content in the business's tenant; offline, the
business's message waits; `read` moves it to read."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from django.test import Client

from e2ee.handsets.control import FleetControl
from e2ee.handsets.models import FleetHandset
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core.models import StreamEntry
from parley.messaging.actions import do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.handsets.conftest import handset_fleet, wait_for  # noqa: F401
from tests.parley.api.test_tokens_and_envelope import api
from tests.parley.messaging.test_spine_live import serve, status_of
from tests.parley.relay.scan import find_plaintext

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/parley/v1/simulator/customers"


@pytest.fixture
def driven(
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The business number served, this process pointed at the fleet; a developer's token."""
    monkeypatch.setenv("PARLEY_FLEET_URL", handset_fleet.url)
    serve(number, factory, asgi_server)
    return do_create_api_token(factory.staff(number.business, "developer"), name="sim").secret


def create(client: Client, secret: str, **extra: Any) -> str:
    customer = new_handset_number()
    response = api(client, secret, "post", BASE, {"phone_number": customer, **extra})
    assert response.status_code == 201, response.content
    assert response.json()["phone_number"] == customer
    return customer


def send(client: Client, secret: str, customer: str, body: dict[str, Any]) -> list[str]:
    response = api(client, secret, "post", f"{BASE}/{customer}/messages", body)
    assert response.status_code == 201, response.content
    return list(response.json()["guids"])


def received(number: PhoneNumber, customer: str, count: int) -> list[Message]:
    """The business's inbound messages from the customer, once `count` have arrived."""

    def check() -> list[Message] | None:
        rows = list(
            Message.objects.filter(
                business=number.business, direction="inbound", conversation__customer=customer
            ).order_by("id")
        )
        return rows if len(rows) >= count else None

    return list(wait_for(check, what=f"{count} inbound messages"))


def test_what_a_customer_sends_arrives_as_the_right_content(
    client: Client, driven: str, number: PhoneNumber
) -> None:
    secret = driven
    customer = create(client, secret, language="pt_BR")
    row = FleetHandset.objects.get(device__e164=customer)
    assert (row.business_id, row.language) == (number.business_id, "pt_BR")
    wait_for(lambda: api(client, secret, "get", f"{BASE}/{customer}").json()["online"])

    hello = "HELLO-" + os.urandom(4).hex()
    send(client, secret, customer, {"to": number.e164, "type": "text", "text": {"body": hello}})
    [first] = received(number, customer, 1)
    assert first.content["body"] == hello

    # The business answers; the customer's phone shows it, decrypted.
    offer = "OFFER-" + os.urandom(4).hex()
    ours = do_send_message(number, customer, Text(f"{offer} today"))
    wait_for(lambda: status_of(ours) == "delivered", what="delivered")
    inbox = api(client, secret, "get", f"{BASE}/{customer}/inbox").json()["data"]
    assert [(i["direction"], i["body"]) for i in inbox] == [
        ("out", hello), ("in", f"{offer} today"),
    ]  # fmt: skip

    reply = "YES-" + os.urandom(4).hex()
    to = number.e164
    send(
        client,
        secret,
        customer,
        {"to": to, "type": "button_reply", "button_reply": {"id": "confirm", "title": "Confirm"}},
    )
    send(
        client,
        secret,
        customer,
        {
            "to": to,
            "type": "location",
            "location": {
                "latitude": 19.076,
                "longitude": 72.8777,
                "name": "Home",
                "address": "Mumbai",
            },
        },
    )
    send(
        client,
        secret,
        customer,
        {"to": to, "type": "reaction", "reaction": {"message_id": ours.wamid, "emoji": "👍"}},
    )
    send(client, secret, customer, {"to": to, "type": "text", "text": {"body": reply},
                                    "context": {"message_id": ours.wamid}})  # fmt: skip
    send(
        client,
        secret,
        customer,
        {"to": to, "type": "action_tap", "action_tap": {"text": "Track", "postback": "track_42"}},
    )
    send(client, secret, customer, {"to": to, "type": "stop"})
    send(client, secret, customer, {"to": to, "type": "file", "file": {
        "data": base64.b64encode(b"\x89PNG fake").decode(), "file_name": "p.png",
        "mime_type": "image/png", "caption": "the parcel"}})  # fmt: skip

    rows = received(number, customer, 8)[1:]
    contents = [m.content for m in rows]
    assert contents[0] == {"type": "interactive_reply", "id": "confirm", "title": "Confirm"}
    assert contents[1] == {"type": "location", "latitude": 19.076, "longitude": 72.8777,
                           "name": "Home", "address": "Mumbai"}  # fmt: skip
    assert contents[2] == {"type": "reaction", "message_id": ours.wamid, "emoji": "👍"}
    assert (contents[3]["type"], contents[3]["body"]) == ("text", reply)
    assert rows[3].reply_to == ours.wamid  # the reply quotes the business's message
    assert contents[4] == {"type": "action_tap", "postback": "track_42"}
    assert (contents[5]["type"], contents[5]["body"]) == ("text", "STOP")
    assert (contents[6]["type"], contents[6]["kind"], contents[6]["caption"]) == (
        "media", "image", "the parcel",
    )  # fmt: skip
    wamids = {m.wamid for m in rows}

    def announced() -> list[StreamEntry] | None:
        events = [
            e
            for e in StreamEntry.objects.filter(name="message.received")
            if e.payload["message_id"] in wamids
        ]
        return events if len(events) == len(wamids) else None

    events = wait_for(announced, what="message.received for each")
    assert {e.business_id for e in events} == {number.business_id}
    assert find_plaintext(reply.encode()) == [] and find_plaintext(offer.encode()) == []


def test_offline_the_message_waits_and_read_moves_it_to_read(
    client: Client, driven: str, number: PhoneNumber
) -> None:
    secret = driven
    customer = create(client, secret)
    wait_for(lambda: api(client, secret, "get", f"{BASE}/{customer}").json()["online"])
    send(client, secret, customer, {"to": number.e164, "type": "text", "text": {"body": "hi"}})
    received(number, customer, 1)  # the service window is open

    off = api(client, secret, "patch", f"{BASE}/{customer}", {"online": False})
    assert off.status_code == 200 and off.json()["online"] is False
    ours = do_send_message(number, customer, Text("Your table is ready"))
    wait_for(lambda: status_of(ours) == "sent", what="sent")
    assert (
        api(client, secret, "get", f"{BASE}/{customer}/inbox").json()["data"][-1]["direction"]
        == "out"
    )  # the phone shows nothing new while offline
    assert status_of(ours) == "sent"  # waiting at the relay, not delivered

    on = api(client, secret, "patch", f"{BASE}/{customer}", {"online": True})
    assert on.status_code == 200 and on.json()["online"] is True
    wait_for(lambda: status_of(ours) == "delivered", what="delivered once back online")
    assert ours.read_at is None

    read = api(client, secret, "post", f"{BASE}/{customer}/read")
    assert read.status_code == 200 and len(read.json()["guids"]) == 1
    wait_for(lambda: status_of(ours) == "read", what="read")
    # Nothing left to read: a second look sends no receipt.
    assert api(client, secret, "post", f"{BASE}/{customer}/read").json()["guids"] == []


def test_a_customer_who_tapped_an_ad_brings_the_ads_referral(
    client: Client, driven: str, number: PhoneNumber
) -> None:
    secret = driven
    customer = create(client, secret)
    wait_for(lambda: api(client, secret, "get", f"{BASE}/{customer}").json()["online"])
    headline = "Winter sale " + os.urandom(4).hex()
    ad = {
        "source_url": "https://fb.me/3cr4Wqqkv",
        "source_id": "120211234567890",
        "source_type": "ad",
        "headline": headline,
        "media_type": "image",
        "image_url": "https://example.test/ad.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ",
    }
    bad = api(
        client,
        secret,
        "post",
        f"{BASE}/{customer}/messages",
        {
            "to": number.e164,
            "type": "text",
            "text": {"body": "hi"},
            "referral": {"source_url": "https://fb.me/x", "source_type": "billboard"},
        },
    )
    assert bad.status_code == 400 and "referral" in bad.json()["error"]["message"]
    send(
        client,
        secret,
        customer,
        {"to": number.e164, "type": "text", "text": {"body": "Is the sale on?"}, "referral": ad},
    )
    [message] = received(number, customer, 1)
    assert message.content["body"] == "Is the sale on?"
    assert message.content["referral"]["ctwa_clid"] == "ARAkLkA8rmlFeiCktEJQ"
    assert message.content["referral"]["headline"] == headline
    # The ad travelled inside the encrypted message: the relay never held it.
    assert find_plaintext(headline.encode()) == []


def test_customers_who_block_lower_the_numbers_quality_and_its_messages_fail(
    client: Client, driven: str, number: PhoneNumber
) -> None:
    secret = driven
    first, second = create(client, secret), create(client, secret)
    for customer in (first, second):  # they write first: the window is open
        send(client, secret, customer, {"to": number.e164, "type": "text",
                                        "text": {"body": "Where is my parcel?"}})  # fmt: skip
        received(number, customer, 1)
    delivered = [do_send_message(number, c, Text("Your parcel is on its way")) for c in
                 (first, second)]  # fmt: skip
    for message in delivered:
        wait_for(lambda: status_of(message) in ("delivered", "read"), what="delivered")  # noqa: B023

    # Both customers block businesses: the relay tells each number that wrote to them.
    for customer in (first, second):
        response = api(client, secret, "patch", f"{BASE}/{customer}", {"blocks_businesses": True})
        assert response.status_code == 200, response.content
        assert response.json()["blocks_businesses"] is True
    blocked = StreamEntry.objects.filter(name="relay.business_blocked")
    assert sorted(e.payload["customer"] for e in blocked) == sorted([first, second])
    assert {e.payload["number_e164"] for e in blocked} == {number.e164}
    # Two of the two customers it reached: the quality consumer rates the number YELLOW.
    wait_for(
        lambda: PhoneNumber.objects.get(pk=number.pk).quality_rating == "YELLOW",
        what="the quality rating following the blocks",
    )
    changed = StreamEntry.objects.get(name="number.quality_changed")
    assert (changed.payload["previous_quality_rating"], changed.payload["quality_rating"]) == (
        "GREEN", "YELLOW",
    )  # fmt: skip
    # A blocked customer refuses the business's messages, as an unknown number would.
    refused = do_send_message(number, first, Text("Still there?"))
    wait_for(lambda: status_of(refused) == "failed", what="the message failing")
    assert Message.objects.get(pk=refused.pk).error_code == 131026

    # Unblocking is not a block: nothing more is announced.
    response = api(client, secret, "patch", f"{BASE}/{first}", {"blocks_businesses": False})
    assert response.json()["blocks_businesses"] is False
    assert StreamEntry.objects.filter(name="relay.business_blocked").count() == 2
    bad = api(client, secret, "patch", f"{BASE}/{first}", {"blocks_businesses": "maybe"})
    assert bad.status_code == 400
