"""/parley/v1/simulator/customers without a running fleet: validation in Meta's envelope,
tenant isolation (another business's customer is exactly an unknown one), the capability,
and 503 — never a 500 — when an operation needs the fleet and none runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from e2ee.actions import do_create_device
from e2ee.handsets.actions import do_enlist_handset
from e2ee.handsets.models import FleetHandset
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging.actions import do_record_inbound_message
from parley.messaging.content import Text
from tests.conftest import _free_port
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope

pytestmark = pytest.mark.django_db

BASE = "/parley/v1/simulator/customers"
CUSTOMER = "+919820012345"


@pytest.fixture(autouse=True)
def no_fleet(monkeypatch: pytest.MonkeyPatch) -> str:
    """Nothing listens where the fleet would be."""
    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("PARLEY_FLEET_URL", url)
    return url


@pytest.fixture
def secret(number: PhoneNumber, factory: Any) -> str:
    return do_create_api_token(factory.staff(number.business, "developer"), name="sim").secret


@pytest.fixture
def other(factory: Any) -> tuple[PhoneNumber, str]:
    """A second business with its own number and token."""
    business = factory.business("Rival", country="US")
    number = PhoneNumber.objects.create(
        business=business, e164="+14155559876", country="US", display_name="Rival",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    token = do_create_api_token(factory.staff(business, "developer"), name="sim").secret
    return number, token


def customer_of(number: PhoneNumber, e164: str = CUSTOMER, **kwargs: Any) -> FleetHandset:
    """A customer's row as the fleet writes it when it creates one for the business."""
    device = do_create_device(e164)
    return do_enlist_handset(device, business_id=number.business_id, **kwargs)


def test_bad_create_bodies_answer_400_in_the_envelope_and_write_nothing(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    for body, fragment in [
        ({}, "phone_number"),
        ({"phone_number": "+1 415 000"}, "not a valid phone number"),
        ({"phone_number": "hello"}, "not a phone number"),
        ({"phone_number": CUSTOMER, "language": "english"}, "language"),
        ({"phone_number": CUSTOMER, "read_delay_seconds": -1}, "read_delay_seconds"),
        ({"phone_number": CUSTOMER, "online": "maybe"}, "online"),
        ({"phone_number": number.e164}, "is a business number"),
    ]:
        error = assert_envelope(api(client, secret, "post", BASE, body), 400, 100)
        assert fragment in error["message"], (body, error)
    assert not FleetHandset.objects.exists()


def test_creating_without_a_fleet_is_503_with_a_clear_message(client: Client, secret: str) -> None:
    response = api(client, secret, "post", BASE, {"phone_number": "+91 98200 12345"})
    error = assert_envelope(response, 503, 2)
    assert "handset fleet is not running" in error["message"]
    assert "manage.py handset_fleet" in error["message"]
    assert not FleetHandset.objects.exists()


def test_every_fleet_operation_is_503_without_a_fleet(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    customer_of(number)
    for method, path, body in [
        ("patch", f"{BASE}/{CUSTOMER}", {"online": False}),
        ("post", f"{BASE}/{CUSTOMER}/messages",
         {"to": number.e164, "type": "text", "text": {"body": "hi"}}),
        ("post", f"{BASE}/{CUSTOMER}/read", None),
        ("get", f"{BASE}/{CUSTOMER}/inbox", None),
    ]:  # fmt: skip
        error = assert_envelope(api(client, secret, method, path, body), 503, 2)
        assert "not running" in error["message"], path
    # Reads of the business's own rows need no fleet.
    assert api(client, secret, "get", f"{BASE}/{CUSTOMER}").status_code == 200


def test_a_business_lists_and_reads_only_its_own_customers(
    client: Client, secret: str, number: PhoneNumber, other: tuple[PhoneNumber, str]
) -> None:
    rival_number, rival_secret = other
    customer_of(number, read_delay_seconds=5.0, language="hi_IN")
    customer_of(rival_number, "+447911123456")
    do_enlist_handset(do_create_device("+5511987654321"))  # the `handset` command's: nobody's

    listed = api(client, secret, "get", BASE).json()
    assert listed["data"] == [{
        "phone_number": CUSTOMER, "wa_id": "919820012345", "country": "IN",
        "language": "hi_IN", "online": True, "blocks_businesses": False,
        "read_delay_seconds": 5.0,
        "created_at": listed["data"][0]["created_at"], "typing": [],
    }]  # fmt: skip
    assert "cursors" in listed["paging"]
    rival = api(client, rival_secret, "get", BASE).json()["data"]
    assert [c["phone_number"] for c in rival] == ["+447911123456"]

    one = api(client, secret, "get", f"{BASE}/919820012345")  # the + is optional
    assert one.status_code == 200 and one.json()["phone_number"] == CUSTOMER


def test_another_business_customer_is_exactly_an_unknown_one(
    client: Client, secret: str, number: PhoneNumber, other: tuple[PhoneNumber, str]
) -> None:
    rival_number, _ = other
    customer_of(rival_number, "+447911123456")
    for target in ("+447911123456", "+447911123999"):  # the rival's, and nobody's
        answers = []
        for method, suffix, body in [
            ("get", "", None),
            ("patch", "", {"online": False}),
            ("post", "/messages", {"to": number.e164, "type": "text", "text": {"body": "x"}}),
            ("post", "/read", None),
            ("get", "/inbox", None),
        ]:
            error = assert_envelope(
                api(client, secret, method, f"{BASE}/{target}{suffix}", body), 404, 100
            )
            answers.append((error["message"].replace(target, "N"), error["error_subcode"]))
        assert answers == [("N is not a simulated customer of this business.", 33)] * 5
    assert FleetHandset.objects.get(device__e164="+447911123456").online is True


def test_bad_messages_are_refused_before_the_fleet_is_asked(
    client: Client, secret: str, number: PhoneNumber, other: tuple[PhoneNumber, str]
) -> None:
    rival_number, _ = other
    customer_of(number)
    mine = do_record_inbound_message(number, CUSTOMER, Text("hi"), envelope_guid=str(uuid.uuid4()))
    send = f"{BASE}/{CUSTOMER}/messages"
    for body, fragment in [
        ({"type": "text", "text": {"body": "hi"}}, "to"),
        ({"to": rival_number.e164, "type": "text", "text": {"body": "hi"}},
         "not a phone number of this business"),
        ({"to": number.e164, "type": "sticker"}, "type"),
        ({"to": number.e164, "type": "text", "text": {"body": ""}}, "text.body is required"),
        ({"to": number.e164, "type": "text", "text": {"body": "re"},
          "context": {"message_id": "wamid.nope"}}, "not a message of this chat"),
        ({"to": number.e164, "type": "button_reply", "button_reply": {"id": "yes"}},
         "title"),
        ({"to": number.e164, "type": "location", "location": {"latitude": 91, "longitude": 0}},
         "location.latitude must be between"),
        ({"to": number.e164, "type": "reaction",
          "reaction": {"message_id": "wamid.nope", "emoji": "👍"}}, "not a message of this chat"),
        ({"to": number.e164, "type": "contacts", "contacts": []}, "contacts"),
        ({"to": number.e164, "type": "file", "file": {"data": "***", "file_name": "a.txt"}},
         "base64"),
    ]:  # fmt: skip
        error = assert_envelope(api(client, secret, "post", send, body), 400, 100)
        assert fragment in error["message"], (body, error)
    # A well-formed reaction to a message of the chat gets as far as the (absent) fleet.
    body = {"to": number.e164, "type": "reaction",
            "reaction": {"message_id": mine.wamid, "emoji": "👍"}}  # fmt: skip
    assert_envelope(api(client, secret, "post", send, body), 503, 2)


def test_the_capability_is_required(client: Client, number: PhoneNumber, factory: Any) -> None:
    developer = factory.staff(number.business, "developer")
    narrow = do_create_api_token(developer, name="n", scopes=["send_messages"]).secret
    error = assert_envelope(api(client, narrow, "get", BASE), 403, 10)
    assert "drive_customers" in error["message"]
