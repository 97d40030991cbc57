"""POST /{version}/{phone_number_id}/messages: sends in the Cloud API's shapes onto the
message lifecycle, mark-as-read, and every error path in Meta's envelope (nothing written)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core.models import StreamEntry
from parley.messaging.actions import do_record_inbound_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope

pytestmark = pytest.mark.django_db

CUSTOMER = "+919820012345"


@pytest.fixture
def developer(number: PhoneNumber, factory: Any) -> Any:
    return factory.staff(number.business, "developer")


@pytest.fixture
def secret(developer: Any) -> str:
    return do_create_api_token(developer, name="integration").secret


def send(client: Client, secret: str, number: PhoneNumber, body: object) -> Any:
    return api(client, secret, "post", f"/v23.0/{number.pk}/messages", body)


def text_to(to: str, body: str = "Your parcel has shipped.", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": {"body": body}, **extra}  # fmt: skip


def customer_wrote(number: PhoneNumber, customer: str = CUSTOMER, body: str = "hi") -> Message:
    return do_record_inbound_message(number, customer, Text(body), envelope_guid=str(uuid.uuid4()))


def test_a_text_is_accepted_in_the_cloud_api_shape(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    response = send(client, secret, number, text_to("91 98200 12345"))
    assert response.status_code == 200, response.content
    body = response.json()
    message = Message.objects.get()
    assert body == {
        "messaging_product": "whatsapp",
        "contacts": [
            {
                "input": "91 98200 12345",
                "wa_id": "919820012345",
                "user_id": message.conversation.user_id,
            }
        ],
        "messages": [{"id": message.wamid}],
    }
    assert message.wamid.startswith("wamid.")
    assert (message.status, message.direction, message.conversation.customer) == (
        "accepted", "outbound", CUSTOMER,
    )  # fmt: skip
    assert message.content == {"type": "text", "body": "Your parcel has shipped.",
                               "preview_url": False, "suggestions": []}  # fmt: skip
    event = StreamEntry.objects.get(name="message.status_changed")
    assert (event.payload["message_id"], event.payload["status"]) == (message.wamid, "accepted")


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        ("text", {"body": "see https://example.com", "preview_url": True},
         {"type": "text", "body": "see https://example.com", "preview_url": True}),
        ("location", {"latitude": "37.4847", "longitude": -122.1486, "name": "Meta HQ",
                      "address": "1 Hacker Way"},
         {"type": "location", "latitude": 37.4847, "longitude": -122.1486, "name": "Meta HQ",
          "address": "1 Hacker Way"}),
        ("interactive", {"type": "button", "body": {"text": "Deliver today?"},
                         "footer": {"text": "Reply below"},
                         "action": {"buttons": [
                             {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                             {"type": "reply", "reply": {"id": "no", "title": "No"}}]}},
         {"type": "interactive", "kind": "button", "body": "Deliver today?",
          "footer": "Reply below",
          "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]}),
        ("interactive", {"type": "list", "header": {"type": "text", "text": "Slots"},
                         "body": {"text": "Pick a slot"},
                         "action": {"button": "Slots", "sections": [
                             {"title": "Today", "rows": [{"id": "am", "title": "Morning"},
                                                         {"id": "pm", "title": "Afternoon"}]}]}},
         {"type": "interactive", "kind": "list", "header": "Slots", "body": "Pick a slot",
          "buttons": [{"id": "am", "title": "Morning"}, {"id": "pm", "title": "Afternoon"}]}),
        ("interactive", {"type": "cta_url", "body": {"text": "Track it"},
                         "action": {"name": "cta_url", "parameters": {
                             "display_text": "Track", "url": "https://example.com/t/1"}}},
         {"type": "interactive", "kind": "cta_url", "url": "https://example.com/t/1",
          "display_text": "Track"}),
    ],
)  # fmt: skip
def test_each_type_becomes_its_typed_content(
    client: Client, secret: str, number: PhoneNumber, kind: str, obj: Any, expected: Any
) -> None:
    body = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": kind, kind: obj}
    response = send(client, secret, number, body)
    assert response.status_code == 200, response.content
    content = Message.objects.get().content
    assert {k: content[k] for k in expected} == expected


def test_contacts_reactions_and_replies_name_the_conversation(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    asked = customer_wrote(number, body="where is my parcel?")
    contacts = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "contacts",
                "contacts": [{"name": {"formatted_name": "Courier Desk", "first_name": "Courier"},
                              "phones": [{"phone": "+14155550100", "type": "WORK"}]}],
                "context": {"message_id": asked.wamid}}  # fmt: skip
    assert send(client, secret, number, contacts).status_code == 200
    reply = Message.objects.get(direction="outbound")
    assert reply.content["contacts"] == [{"name": "Courier Desk", "phones": ["+14155550100"]}]
    assert reply.reply_to == asked.wamid

    reaction = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction",
                "reaction": {"message_id": asked.wamid, "emoji": "👍"}}  # fmt: skip
    assert send(client, secret, number, reaction).status_code == 200
    assert Message.objects.filter(content_type="reaction").get().content["emoji"] == "👍"

    # A context naming no message of this number is sent without it, as the platform does.
    text = text_to(CUSTOMER, context={"message_id": "wamid.unknown"})
    assert send(client, secret, number, text).status_code == 200
    assert Message.objects.filter(content_type="text", direction="outbound").get().reply_to == ""


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"to": CUSTOMER, "type": "text", "text": {"body": "x"}}, 400, 100, "messaging_product"),
        ({"messaging_product": "sms", "to": CUSTOMER, "text": {"body": "x"}}, 400, 100,
         "WHATSAPP"),
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}, 400, 100,
         "parameter to is required"),
        (text_to("hello"), 400, 100, "not a valid phone number"),
        (text_to(CUSTOMER) | {"type": "fax"}, 400, 100, "Param type must be one of"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text"}, 400, 131008,
         "'text' is required"),
        (text_to(CUSTOMER, "x" * 4097), 400, 131009, "4096"),
        (text_to(CUSTOMER) | {"text": {"body": 42}}, 400, 100, "must be a string"),
        (text_to(CUSTOMER) | {"colour": "red"}, 400, 100, 'Unexpected key "colour"'),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image",
          "image": {"id": "12345678901234567"}}, 400, 100,
         "not a valid whatsapp business account media attachment ID"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image",
          "image": {"link": "file:///etc/passwd"}}, 400, 131009, "http or https"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "interactive",
          "interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": [
              {"type": "reply", "reply": {"id": str(i), "title": "B"}} for i in range(4)]}}},
         400, 131009, "1 to 3"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "location",
          "location": {"latitude": 91, "longitude": 0}}, 400, 131009, "±90"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "reaction",
          "reaction": {"message_id": "wamid.nothing", "emoji": "👍"}}, 400, 131009,
         "not a message of the conversation"),
        ("[1, 2]", 400, 100, "JSON object"),
        ('{"messaging_product": ', 400, 100, "JSON"),
    ],
)  # fmt: skip
def test_bad_requests_get_the_real_code_and_write_nothing(
    client: Client, secret: str, number: PhoneNumber, body: Any, status: int, code: int,
    words: str,
) -> None:  # fmt: skip
    response = send(client, secret, number, body)
    error = assert_envelope(response, status, code)
    assert words in json.dumps(error, ensure_ascii=False) or words in error["message"]
    if code != 100:
        assert error["error_data"]["messaging_product"] == "whatsapp"
    assert not Message.objects.exists()
    assert not StreamEntry.objects.filter(name="message.status_changed").exists()


def test_sending_to_itself_is_131021(client: Client, secret: str, number: PhoneNumber) -> None:
    error = assert_envelope(send(client, secret, number, text_to(number.e164)), 400, 131021)
    assert error["message"] == "(#131021) Recipient cannot be sender"
    assert not Message.objects.exists()


def test_an_unregistered_number_is_133010(client: Client, secret: str, number: PhoneNumber) -> None:
    number.status = PhoneNumber.Status.PENDING
    number.save()
    error = assert_envelope(send(client, secret, number, text_to(CUSTOMER)), 400, 133010)
    assert "not registered" in error["error_data"]["details"]
    assert not Message.objects.exists()


def test_other_tenants_and_scopes_get_nothing(
    client: Client, secret: str, number: PhoneNumber, factory: Any
) -> None:
    other = factory.business("Other")
    outsider = do_create_api_token(factory.staff(other, "developer"), name="x").secret
    assert_envelope(send(client, outsider, number, text_to(CUSTOMER)), 404, 100)
    reader = do_create_api_token(
        factory.staff(number.business, "developer"), name="read", scopes=["view_numbers"]
    ).secret
    error = assert_envelope(send(client, reader, number, text_to(CUSTOMER)), 403, 10)
    assert "send_messages" in error["message"]
    admin = do_create_api_token(factory.staff(number.business, "administrator"), name="a").secret
    assert_envelope(send(client, admin, number, text_to(CUSTOMER)), 403, 10)
    assert not Message.objects.exists()


def test_mark_read_reads_the_message_and_every_earlier_one(
    client: Client, secret: str, number: PhoneNumber, factory: Any
) -> None:
    first, second, third = (customer_wrote(number, body=b) for b in ("one", "two", "three"))
    read = {"messaging_product": "whatsapp", "status": "read", "message_id": second.wamid,
            "typing_indicator": {"type": "text"}}  # fmt: skip
    response = send(client, secret, number, read)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    statuses = dict(Message.objects.values_list("wamid", "status"))
    assert [statuses[m.wamid] for m in (first, second, third)] == ["read", "read", "received"]

    sent = send(client, secret, number, text_to(CUSTOMER)).json()["messages"][0]["id"]
    for wamid in (sent, "wamid.unknown"):
        bad = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        error = assert_envelope(send(client, secret, number, bad), 400, 100)
        assert "not a message this number received" in error["error_data"]["details"]
    # Another business's token cannot read this business's message.
    other = do_create_api_token(factory.staff(factory.business("Other"), "developer"),
                                name="x").secret  # fmt: skip
    bad = {"messaging_product": "whatsapp", "status": "read", "message_id": third.wamid}
    assert_envelope(send(client, other, number, bad), 404, 100)
    assert Message.objects.get(pk=third.pk).status == "received"


def approved_template(number: PhoneNumber) -> Any:
    from parley.message_templates.actions import do_create_template, do_review_template
    from tests.parley.message_templates.conftest import template

    body = template()
    made = do_create_template(number.business, name=body["name"], language=body["language"],
                              category=body["category"], components=body["components"])  # fmt: skip
    return do_review_template(number.business, made.graph_id, decision="APPROVED")


def template_to(to: str, name: str = "order_update", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": name, "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "A-7"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                {"type": "text", "text": "Friday"}]},
                {"type": "button", "sub_type": "url", "index": "1",
                 "parameters": [{"type": "text", "text": "A-7"}]}]}, **extra}  # fmt: skip


def test_a_template_is_accepted_with_its_rendered_text_and_category(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    approved_template(number)
    response = send(client, secret, number, template_to(CUSTOMER))
    assert response.status_code == 200, response.content
    (sent,) = response.json()["messages"]
    assert sent["message_status"] == "accepted"
    message = Message.objects.get(wamid=sent["id"])
    assert message.content_type == "template"
    assert message.content["category"] == "utility"
    assert message.content["body"] == "Hi Ana, your order ships on Friday. Thanks!"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (template_to(CUSTOMER, name="no_such_template"), 132001, "no_such_template"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
          "template": {"language": {"code": "en_US"}}}, 131008, "template.name"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
          "template": {"name": "order_update", "language": {"code": "en_US"}, "components": [
              {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}},
         132000, "parameters"),
    ],
)  # fmt: skip
def test_template_errors_are_the_132000_series(
    client: Client, secret: str, number: PhoneNumber, body: Any, code: int, words: str
) -> None:
    approved_template(number)
    error = assert_envelope(send(client, secret, number, body), 400, code)
    assert words in error["error_data"]["details"] or words in error["message"]
    assert not Message.objects.exists()


def test_the_pair_rate_allows_a_burst_then_one_every_6_seconds(
    client: Client, secret: str, number: PhoneNumber, frozen_clock: Any
) -> None:
    for i in range(45):
        assert send(client, secret, number, text_to(CUSTOMER, f"m{i}")).status_code == 200
    error = assert_envelope(send(client, secret, number, text_to(CUSTOMER, "one more")), 429,
                            131056)  # fmt: skip
    assert "same recipient" in error["error_data"]["details"]
    assert Message.objects.count() == 45  # the refused one wrote nothing
    # Another customer is not held back by this pair.
    assert send(client, secret, number, text_to("+919820012346")).status_code == 200
    frozen_clock.advance(seconds=5)
    assert_envelope(send(client, secret, number, text_to(CUSTOMER)), 429, 131056)
    frozen_clock.advance(seconds=1)
    assert send(client, secret, number, text_to(CUSTOMER)).status_code == 200
    assert_envelope(send(client, secret, number, text_to(CUSTOMER)), 429, 131056)


def test_the_limits_survive_a_redis_that_forgot_their_script(
    client: Client, secret: str, number: PhoneNumber, frozen_clock: Any, settings: Any
) -> None:
    import redis

    settings.PARLEY = {**settings.PARLEY, "PAIR_RATE_BURST": 2}
    assert send(client, secret, number, text_to(CUSTOMER)).status_code == 200
    redis.Redis.from_url(settings.REDIS_URL).script_flush()  # as after a restart
    assert send(client, secret, number, text_to(CUSTOMER)).status_code == 200
    # Still counted once each: the third is past the burst of two.
    assert_envelope(send(client, secret, number, text_to(CUSTOMER)), 429, 131056)


def test_throughput_is_counted_per_number_on_the_clock(
    client: Client, secret: str, number: PhoneNumber, frozen_clock: Any, settings: Any,
    factory: Any,
) -> None:  # fmt: skip
    admin = do_create_api_token(factory.staff(number.business, "administrator"), name="a").secret
    settings.PARLEY = {**settings.PARLEY, "THROUGHPUT_STANDARD": 5, "THROUGHPUT_HIGH": 8}
    customers = [f"+9198200{i:05d}" for i in range(20)]
    for to in customers[:5]:
        assert send(client, secret, number, text_to(to)).status_code == 200
    error = assert_envelope(send(client, secret, number, text_to(customers[5])), 429, 130429)
    assert "5 messages a second" in error["error_data"]["details"]
    frozen_clock.advance(seconds=0.4)  # two tokens back
    assert send(client, secret, number, text_to(customers[5])).status_code == 200
    assert send(client, secret, number, text_to(customers[6])).status_code == 200
    assert_envelope(send(client, secret, number, text_to(customers[7])), 429, 130429)

    # Upgrading to HIGH: sends fail with 131057 until the upgrade is done, then 8 a second.
    upgrade = api(client, admin, "post", f"/parley/v1/simulator/numbers/{number.pk}/throughput",
                  {"level": "HIGH"})  # fmt: skip
    assert upgrade.status_code == 200, upgrade.content
    assert upgrade.json()["throughput"] == {"level": "HIGH"}
    frozen_clock.advance(seconds=1)
    assert_envelope(send(client, secret, number, text_to(customers[8])), 400, 131057)
    frozen_clock.advance(seconds=300)
    for to in customers[8:16]:
        assert send(client, secret, number, text_to(to)).status_code == 200
    assert_envelope(send(client, secret, number, text_to(customers[16])), 429, 130429)
    assert_envelope(api(client, secret, "post",
                        f"/parley/v1/simulator/numbers/{number.pk}/throughput",
                        {"level": "STANDARD"}), 403, 10)  # fmt: skip
    bad = api(client, admin, "post", f"/parley/v1/simulator/numbers/{number.pk}/throughput",
              {"level": "LUDICROUS"})  # fmt: skip
    assert_envelope(bad, 400, 100)


def test_a_customer_is_reached_by_the_business_scoped_user_id(
    client: Client, secret: str, number: PhoneNumber, factory: Any
) -> None:
    asked = customer_wrote(number)
    user_id = asked.conversation.user_id
    assert re.fullmatch(r"IN\.[0-9]{20}", user_id)
    by_number = send(client, secret, number, text_to(CUSTOMER)).json()
    assert by_number["contacts"] == [
        {"input": CUSTOMER, "wa_id": "919820012345", "user_id": user_id}
    ]
    body = {"messaging_product": "whatsapp", "recipient": user_id, "type": "text",
            "text": {"body": "By your user id"}}  # fmt: skip
    response = send(client, secret, number, body)
    assert response.status_code == 200, response.content
    assert response.json()["contacts"] == [{"input": user_id, "user_id": user_id}]
    message = Message.objects.get(wamid=response.json()["messages"][0]["id"])
    assert message.conversation_id == asked.conversation_id

    # Another business knows the same person by another id, and cannot use this one.
    other = factory.business("Other")
    other_number = PhoneNumber.objects.create(
        business=other, e164="+14155550999", country="US", display_name="Other",
        code_verification_status="VERIFIED", status="CONNECTED", created_at=number.created_at,
    )  # fmt: skip
    theirs = customer_wrote(other_number).conversation.user_id
    assert theirs != user_id
    outsider = do_create_api_token(factory.staff(other, "developer"), name="o").secret
    error = assert_envelope(send(client, outsider, other_number, body), 400, 100)
    assert "not a user of this business" in error["error_data"]["details"]
    for bad in ({**body, "to": CUSTOMER}, {**body, "recipient": "+919820012345"}):
        assert_envelope(send(client, secret, number, bad), 400, 100)
    assert Message.objects.filter(direction="outbound").count() == 2
