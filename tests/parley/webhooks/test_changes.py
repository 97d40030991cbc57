"""build_changes: stream deliveries of real messages (made by the messaging actions) and
real template and number changes, read back from the stream, into Meta-shaped bodies."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from parley.accounts.actions.numbers import do_set_quality_rating
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.events import NumberStatusChanged, WebhookTestRequested
from parley.core.models import StreamEntry
from parley.core.publish import publish
from parley.core.stream import log
from parley.core.stream.consumers import Delivery
from parley.message_templates.actions import do_create_template, do_review_template
from parley.messaging import actions
from parley.messaging.content import (
    ActionTap,
    Button,
    Interactive,
    InteractiveReply,
    Media,
    Template,
    Text,
)
from parley.messaging.models import Conversation, Message
from parley.webhooks.changes import BuiltChange, build_changes
from tests.parley.message_templates.conftest import template as template_body

pytestmark = pytest.mark.django_db
CUSTOMER = "+919876500001"
WA_ID = "919876500001"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
_guids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 10**6))


def guid() -> str:
    return next(_guids)


def deliveries(after: int) -> list[Delivery]:
    """What the stream hands a consumer: the entries after `after`, rebuilt from the log."""
    entries = StreamEntry.objects.filter(id__gt=after).order_by("id")
    return [Delivery(e.id, e.key, log.to_event(e)) for e in entries]


def built_since(after: int) -> list[BuiltChange]:
    return build_changes(deliveries(after))


def parsed(change: BuiltChange) -> dict[str, Any]:
    assert change.body.isascii()
    document = json.loads(change.body)
    assert document["object"] == "whatsapp_business_account"
    (entry,) = document["entry"]
    assert entry["id"] == str(change.business_id)
    (item,) = entry["changes"]
    assert item["field"] == change.field
    return dict(item["value"])


def receive(number: PhoneNumber, content: Any, **kwargs: Any) -> Message:
    return actions.do_record_inbound_message(number, CUSTOMER, content, envelope_guid=guid(),
                                             **kwargs)  # fmt: skip


def send(number: PhoneNumber, content: Any) -> tuple[Message, str]:
    message = actions.do_send_message(number, CUSTOMER, content, deliver=False)
    envelope = guid()
    actions.do_record_sent_envelope(message.pk, envelope, 1)
    return message, envelope


@pytest.fixture
def frozen() -> Any:
    with clock.frozen(T0) as c:
        yield c


# -- inbound -----------------------------------------------------------------------------


def test_an_inbound_text_becomes_a_messages_change(number: PhoneNumber, frozen: Any) -> None:
    start = log.last_id()
    message = receive(number, Text("Grüße / hello"))
    (change,) = built_since(start)
    assert (change.field, change.event, change.message_id, change.app_id) == (
        "messages", "message.received", message.wamid, "",
    )  # fmt: skip
    assert change.business_id == number.business_id
    assert "Gr\\u00fc\\u00dfe \\/ hello" in change.body
    value = parsed(change)
    conversation = Conversation.objects.get()
    assert value["metadata"] == {"display_phone_number": number.e164.lstrip("+"),
                                 "phone_number_id": str(number.pk)}  # fmt: skip
    assert value["contacts"] == [{"profile": {"name": WA_ID}, "wa_id": WA_ID,
                                  "user_id": conversation.user_id}]  # fmt: skip
    assert conversation.user_id.startswith("IN.")
    assert value["messages"] == [{
        "from": WA_ID, "id": message.wamid, "timestamp": str(int(T0.timestamp())),
        "type": "text", "text": {"body": "Grüße / hello"},
    }]  # fmt: skip


def test_a_reply_names_the_business_message_it_quotes(number: PhoneNumber, frozen: Any) -> None:
    receive(number, Text("hi"))
    sent, _ = send(number, Text("How can we help?"))
    start = log.last_id()
    receive(number, Text("With this"), reply_to=sent.wamid)
    (change,) = built_since(start)
    (message,) = parsed(change)["messages"]
    assert message["context"] == {"from": number.e164.lstrip("+"), "id": sent.wamid}


def test_taps_answer_the_interactive_or_template_message_that_offered_them(
    number: PhoneNumber, frozen: Any
) -> None:
    receive(number, Text("menu?"))
    buttons, _ = send(number, Interactive("button", "Pick one",
                                          (Button("yes", "Yes"), Button("no", "No"))))  # fmt: skip
    frozen.advance(seconds=1)
    days = (Button("mon", "Monday"), Button("tue", "Tuesday"))
    rows, _ = send(number, Interactive("list", "Which day?", days))
    frozen.advance(seconds=1)
    start = log.last_id()
    receive(number, InteractiveReply("yes", "Yes"))
    receive(number, InteractiveReply("tue", "Tuesday"))
    frozen.advance(seconds=1)
    promo, _ = send(number, Template("spring_sale", "en_US", "marketing", body="Sale!"))
    frozen.advance(seconds=1)
    receive(number, InteractiveReply("Stop promotions", "Stop promotions"))
    receive(number, ActionTap("rcs-postback"))  # no WhatsApp webhook for it
    received = [c for c in built_since(start) if c.event == "message.received"]
    assert len(received) == 3
    button, row, quick = (parsed(c)["messages"][0] for c in received)
    business = number.e164.lstrip("+")
    assert button["interactive"] == {"type": "button_reply",
                                     "button_reply": {"id": "yes", "title": "Yes"}}  # fmt: skip
    assert button["context"] == {"from": business, "id": buttons.wamid}
    assert row["interactive"] == {"type": "list_reply",
                                  "list_reply": {"id": "tue", "title": "Tuesday"}}  # fmt: skip
    assert row["context"] == {"from": business, "id": rows.wamid}
    assert quick["type"] == "button"
    assert quick["button"] == {"payload": "Stop promotions", "text": "Stop promotions"}
    assert quick["context"] == {"from": business, "id": promo.wamid}


def test_inbound_media_carries_its_digest_not_its_key(number: PhoneNumber, frozen: Any) -> None:
    start = log.last_id()
    pointer = {"id": "att-1", "media_key": "S2V5IQ==", "file_sha256": "ZGlnZXN0",
               "media_type": "DOCUMENT"}  # fmt: skip
    receive(number, Media(kind="document", id="att-1", mime_type="application/pdf",
                          file_name="bill.pdf", file_length=10, caption="my bill",
                          pointer=pointer))  # fmt: skip
    (change,) = built_since(start)
    (message,) = parsed(change)["messages"]
    # Named by its Graph media id (GET /{version}/{media_id} reads it), not the attachment.
    media_id = Message.objects.get(direction="inbound").media_id
    assert media_id is not None and len(str(media_id)) == 17
    assert message["document"] == {"caption": "my bill", "filename": "bill.pdf",
                                   "mime_type": "application/pdf", "sha256": "ZGlnZXN0",
                                   "id": str(media_id)}  # fmt: skip
    assert "S2V5IQ" not in change.body and "att-1" not in change.body


# -- statuses ----------------------------------------------------------------------------


def statuses(changes: list[BuiltChange]) -> list[dict[str, Any]]:
    found = []
    for change in changes:
        if change.event == "message.status_changed":
            value = parsed(change)
            (item,) = value["statuses"]
            assert change.message_id == item["id"]
            found.append({"contacts": value["contacts"], **item})
    return found


def test_a_service_reply_goes_sent_delivered_read_free_in_the_window(
    number: PhoneNumber, frozen: Any
) -> None:
    receive(number, Text("hello?"))
    start = log.last_id()
    frozen.advance(minutes=5)
    message, envelope = send(number, Text("Hi! How can we help?"))
    frozen.advance(seconds=2)
    actions.do_apply_receipt(number, envelope, "delivery")
    frozen.advance(seconds=3)
    actions.do_apply_receipt(number, envelope, "read")
    sent, delivered, read = statuses(built_since(start))  # accepted has no webhook
    user_id = Conversation.objects.get().user_id
    assert [s["status"] for s in (sent, delivered, read)] == ["sent", "delivered", "read"]
    assert {s["id"] for s in (sent, delivered, read)} == {message.wamid}
    assert sent["timestamp"] == str(int((T0 + dt.timedelta(minutes=5)).timestamp()))
    assert (sent["recipient_id"], sent["recipient_user_id"]) == (WA_ID, user_id)
    assert sent["contacts"] == [{"wa_id": WA_ID, "user_id": user_id}]
    free = {"billable": False, "pricing_model": "PMP", "category": "service",
            "type": "free_customer_service"}  # fmt: skip
    assert sent["pricing"] == free and delivered["pricing"] == free
    window_end = int((T0 + dt.timedelta(hours=24)).timestamp())
    assert sent["conversation"]["expiration_timestamp"] == str(window_end)
    assert sent["conversation"]["origin"] == {"type": "service"}
    assert delivered["conversation"] == {"id": sent["conversation"]["id"],
                                         "origin": {"type": "service"}}  # fmt: skip
    assert "pricing" not in read and "conversation" not in read


def test_templates_are_priced_by_category_and_window_as_billing_prices_them(
    number: PhoneNumber, frozen: Any
) -> None:
    start = log.last_id()
    # No customer message yet: every template is business-initiated.
    marketing, _ = send(number, Template("sale", "en_US", "marketing"))
    utility_out, _ = send(number, Template("shipped", "en_US", "utility"))
    frozen.advance(hours=1)
    receive(number, Text("where is my parcel?"))
    frozen.advance(hours=24)  # the window's last moment still counts
    utility_in, _ = send(number, Template("shipped", "en_US", "utility"))
    frozen.advance(seconds=1)
    utility_after, _ = send(number, Template("shipped", "en_US", "utility"))
    auth, _ = send(number, Template("code", "en_US", "authentication"))
    pricing = {s["id"]: s["pricing"] for s in statuses(built_since(start))}
    assert pricing[marketing.wamid] == {"billable": True, "pricing_model": "PMP",
                                        "category": "marketing", "type": "regular"}  # fmt: skip
    assert pricing[utility_out.wamid]["type"] == "regular"
    assert pricing[utility_in.wamid] == {"billable": False, "pricing_model": "PMP",
                                         "category": "utility",
                                         "type": "free_customer_service"}  # fmt: skip
    assert pricing[utility_after.wamid]["billable"] is True
    assert pricing[auth.wamid]["category"] == "authentication"


def test_an_answer_to_an_ad_is_free_for_72_hours_as_billing_prices_it(
    number: PhoneNumber, frozen: Any
) -> None:
    from billing.engine.whatsapp import ENTRY_POINT_ANSWER, ENTRY_POINT_WINDOW
    from parley.messaging import entry_points
    from parley.messaging.content import Referral

    # One rule, two places: messaging (what statuses report) and billing's engine.
    assert (entry_points.ANSWER_WITHIN, entry_points.FREE_FOR) == (
        ENTRY_POINT_ANSWER, ENTRY_POINT_WINDOW,
    )  # fmt: skip
    start = log.last_id()
    ad = Referral(source_url="https://fb.me/ad1", source_id="120", headline="50% off")
    receive(number, Text("Is this still on?", referral=ad))
    frozen.advance(hours=23)  # answered within 24 h: 72 free hours from here
    opened = clock.now()
    first, _ = send(number, Template("sale", "en_US", "marketing"))
    frozen.advance(hours=72)  # the window's last moment still counts
    last, _ = send(number, Template("sale", "en_US", "marketing"))
    frozen.advance(seconds=1)
    after, _ = send(number, Template("sale", "en_US", "marketing"))
    found = {s["id"]: s for s in statuses(built_since(start))}
    free = {"billable": False, "pricing_model": "PMP", "category": "referral_conversion",
            "type": "free_entry_point"}  # fmt: skip
    assert found[first.wamid]["pricing"] == free and found[last.wamid]["pricing"] == free
    conversation = found[first.wamid]["conversation"]
    assert conversation["origin"] == {"type": "referral_conversion"}
    ends = int((opened + dt.timedelta(hours=72)).timestamp())
    assert conversation["expiration_timestamp"] == str(ends)
    assert found[last.wamid]["conversation"]["id"] == conversation["id"]  # one window
    charged = {"billable": True, "pricing_model": "PMP", "category": "marketing",
               "type": "regular"}  # fmt: skip
    assert found[after.wamid]["pricing"] == charged
    stored = Conversation.objects.get()
    assert (stored.free_entry_opened_at, stored.free_entry_expires_at) == (
        opened, opened + dt.timedelta(hours=72),
    )  # fmt: skip


def test_an_ordinary_message_or_a_late_answer_opens_no_free_window(
    number: PhoneNumber, frozen: Any
) -> None:
    from parley.messaging.content import Referral

    start = log.last_id()
    receive(number, Text("hello"))  # no referral: not an entry point
    ordinary, _ = send(number, Template("sale", "en_US", "marketing"))
    frozen.advance(hours=1)
    receive(number, Text("from the ad", referral=Referral(source_url="u", source_id="1")))
    frozen.advance(hours=24, seconds=1)  # too late to answer it for free
    late, _ = send(number, Template("sale", "en_US", "marketing"))
    pricing = {s["id"]: s["pricing"] for s in statuses(built_since(start))}
    assert pricing[ordinary.wamid]["type"] == pricing[late.wamid]["type"] == "regular"
    assert Message.objects.filter(free_entry_until__isnull=False).count() == 0


def test_failed_carries_the_error_and_inbound_reads_have_no_webhook(
    number: PhoneNumber, frozen: Any
) -> None:
    inbound = receive(number, Text("hi"))
    start = log.last_id()
    message = actions.do_send_message(number, CUSTOMER, Text("late"), deliver=False)
    actions.do_fail_message(message.pk, 131026, "Message undeliverable: no device")
    actions.do_mark_inbound_read(inbound.pk)
    (failed,) = statuses(built_since(start))
    assert failed["status"] == "failed" and failed["id"] == message.wamid
    assert failed["errors"] == [{"code": 131026, "title": "Message undeliverable",
                                 "message": "Message undeliverable",
                                 "error_data": {"details": "no device"}}]  # fmt: skip
    assert failed["contacts"] == [{"wa_id": WA_ID}]


# -- templates, numbers and tests --------------------------------------------------------


def test_template_reviews_become_template_status_updates(number: PhoneNumber, frozen: Any) -> None:
    business = number.business
    start = log.last_id()
    created = do_create_template(business, **template_body())
    frozen.advance(minutes=1)
    do_review_template(business, created.graph_id, decision="APPROVED")
    pending, approved = built_since(start)
    assert {pending.field, approved.field} == {"message_template_status_update"}
    assert (approved.event, approved.message_id) == ("template.status_changed", "")
    document = json.loads(approved.body)
    assert list(document) == ["entry", "object"]
    assert document["entry"][0]["time"] == int((T0 + dt.timedelta(minutes=1)).timestamp())
    assert parsed(approved) == {
        "event": "APPROVED", "message_template_id": created.graph_id,
        "message_template_name": "order_update", "message_template_language": "en_US",
        "reason": "NONE", "message_template_category": "UTILITY",
    }  # fmt: skip
    assert parsed(pending)["event"] == "PENDING"


def test_quality_changes_to_and_from_red_only(number: PhoneNumber, frozen: Any) -> None:
    business = number.business
    start = log.last_id()
    do_set_quality_rating(business, number.pk, rating="YELLOW")  # no Meta event
    do_set_quality_rating(business, number.pk, rating="RED")
    do_set_quality_rating(business, number.pk, rating="GREEN")
    flagged, unflagged = built_since(start)
    assert flagged.field == "phone_number_quality_update"
    assert parsed(flagged) == {
        "display_phone_number": number.e164.lstrip("+"), "event": "FLAGGED",
        "current_limit": business.messaging_limit_tier,
        "max_daily_conversations_per_business": business.messaging_limit_tier,
    }  # fmt: skip
    assert parsed(unflagged)["event"] == "UNFLAGGED"


def test_a_test_request_is_the_fields_sample_for_one_app(number: PhoneNumber, frozen: Any) -> None:
    start = log.last_id()
    for field in ("messages", "account_update", "no_such_field"):
        publish(WebhookTestRequested(business_id=number.business_id, occurred_at=T0,
                                     app_id="1234567890", field=field))  # fmt: skip
    publish(NumberStatusChanged(business_id=number.business_id, occurred_at=T0,
                                number_id=number.pk, display_phone_number="+1 415",
                                status="CONNECTED", official_verification="verified"))  # fmt: skip
    messages, account = built_since(start)
    assert (messages.app_id, messages.field, messages.event) == (
        "1234567890", "messages", "webhook.test_requested",
    )  # fmt: skip
    assert json.loads(messages.body)["entry"][0]["id"] == "0"  # Meta's sample ids
    (change,) = json.loads(account.body)["entry"][0]["changes"]
    assert change == {"value": {"phone_number": "16505551111", "event": "VERIFIED_ACCOUNT"},
                      "field": "account_update"}  # fmt: skip


def test_a_batch_costs_a_fixed_number_of_queries(
    number: PhoneNumber, frozen: Any, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    def traffic(rounds: int) -> list[Delivery]:
        start = log.last_id()
        for _ in range(rounds):
            receive(number, Text("hi"))
            receive(number, InteractiveReply("yes", "Yes"))
            _, envelope = send(number, Template("shipped", "en_US", "utility"))
            actions.do_apply_receipt(number, envelope, "delivery")
            frozen.advance(minutes=1)
        return deliveries(start)

    small, large = traffic(1), traffic(10)
    with django_assert_max_num_queries(6):
        assert len(build_changes(small)) == 4
    with django_assert_max_num_queries(6):
        assert len(build_changes(large)) == 40


def test_pywa_reads_every_change_of_a_conversation(number: PhoneNumber, frozen: Any) -> None:
    """The bodies built from stored messages, signed, through pywa's webhook handling."""
    from pywa.types import CallbackButton, MessageStatus
    from pywa.types import Message as PywaMessage

    from parley.webhooks import signing
    from tests.parley.webhooks.test_pywa_parses import Receiver

    start = log.last_id()
    receive(number, Text("hello"))
    menu, envelope = send(number, Interactive("button", "Pick", (Button("a", "A"),)))
    actions.do_apply_receipt(number, envelope, "delivery")
    actions.do_apply_receipt(number, envelope, "read")
    receive(number, InteractiveReply("a", "A"))
    failed = actions.do_send_message(number, CUSTOMER, Text("x"), deliver=False)
    actions.do_fail_message(failed.pk, 131026, "Message undeliverable: no device")
    parsed_updates: list[Any] = []
    for change in built_since(start):
        receiver = Receiver("app-secret", phone_id=str(number.pk),
                            waba_id=str(number.business_id))  # fmt: skip
        body = change.body.encode("ascii")
        headers = signing.headers_for(body, f"wh_{change.stream_id}", 1, ["app-secret"])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a value pywa does not know fails the build
            assert receiver.post(body, headers) == ("ok", 200)
        (update,) = receiver.updates
        parsed_updates.append(update)
    kinds = [type(u).__name__ for u in parsed_updates]
    assert kinds == ["Message", "MessageStatus", "MessageStatus", "MessageStatus",
                     "CallbackButton", "MessageStatus"]  # fmt: skip
    hello, sent, _delivered, _read, tap, fail = parsed_updates
    assert isinstance(hello, PywaMessage) and hello.text == "hello"
    assert hello.from_user.bsuid == Conversation.objects.get().user_id
    assert isinstance(sent, MessageStatus) and sent.pricing is not None
    assert sent.pricing.billable is False and sent.id == menu.wamid
    assert isinstance(tap, CallbackButton) and tap.reply_to_message is not None
    assert tap.reply_to_message.id == menu.wamid
    assert isinstance(fail, MessageStatus) and fail.error is not None
    assert fail.error.code == 131026
