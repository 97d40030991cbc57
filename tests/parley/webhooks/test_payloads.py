"""The webhook envelope and every value shape, built by the pure payloads module."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from billing.engine.facts import WaCategory
from billing.engine.whatsapp import per_message_charge
from parley.messaging.content import (
    ActionTap,
    Contact,
    Contacts,
    InteractiveReply,
    Location,
    Media,
    Reaction,
    Text,
    Unsupported,
)
from parley.webhooks import payloads
from parley.webhooks.payloads import (
    ConversationRef,
    Customer,
    Inbound,
    Number,
    Pricing,
    Quoted,
    StatusUpdate,
    TemplateChange,
)

NUMBER = Number(phone_number_id="106540352242922", display_phone_number="15550783881")
CUSTOMER = Customer(wa_id="16505551234", user_id="US.13491208655302741918", name="Sheena")
T = 1749416383
SHA = "tLZ7+k6CRqxuF8xiRJw3qqUiJKdTvMu7GHmdEdnJg4s="


def inbound(content: Any, quoted: Quoted | None = None) -> dict[str, Any]:
    value = payloads.messages_value(NUMBER, CUSTOMER, Inbound("wamid.IN1", T, content, quoted))
    assert value is not None
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": "15550783881",
                                 "phone_number_id": "106540352242922"}  # fmt: skip
    assert value["contacts"] == [
        {"profile": {"name": "Sheena"}, "wa_id": "16505551234",
         "user_id": "US.13491208655302741918"}
    ]  # fmt: skip
    (message,) = value["messages"]
    assert (message["from"], message["id"], message["timestamp"]) == (
        "16505551234", "wamid.IN1", str(T),
    )  # fmt: skip
    return dict(message)


# -- encoding ----------------------------------------------------------------------------


def test_the_body_is_compact_ascii_escaped_as_meta_escapes_it() -> None:
    document = {"text": "äöå ✓ 😀", "url": "https://x.test/a/b", "tag": "<b>", "pc": "5%",
                "mail": "a@b.c", "quote": 'say "hi"\\'}  # fmt: skip
    text = payloads.encode(document)
    assert text.isascii() and '": ' not in text and '", "' not in text  # compact
    assert "\\u00e4\\u00f6\\u00e5" in text  # lowercase hex, as Meta's example
    assert "\\u2713" in text and "\\ud83d\\ude00" in text  # beyond the BMP: a surrogate pair
    assert "https:\\/\\/x.test\\/a\\/b" in text
    assert "\\u003Cb>" in text and "5\\u0025" in text and "a\\u0040b.c" in text
    assert json.loads(text) == document  # any JSON parser reads it back unchanged


def test_an_escaped_backslash_before_a_slash_survives() -> None:
    document = {"path": "a\\/b", "plain": "a/b"}
    text = payloads.encode(document)
    assert json.loads(text) == document
    assert text == '{"path":"a\\\\\\/b","plain":"a\\/b"}'


def test_messages_envelope_has_one_entry_with_one_change_and_no_time() -> None:
    value = {"messaging_product": "whatsapp"}
    document = payloads.envelope("102290129340398", "messages", value)
    assert list(document) == ["object", "entry"]
    assert document == {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398",
                   "changes": [{"value": value, "field": "messages"}]}],
    }  # fmt: skip


def test_other_fields_carry_the_entry_time_and_put_object_last() -> None:
    document = payloads.envelope("1", "message_template_status_update", {"event": "X"}, time=T)
    assert list(document) == ["entry", "object"]
    assert document["entry"][0] == {
        "id": "1", "time": T,
        "changes": [{"value": {"event": "X"}, "field": "message_template_status_update"}],
    }  # fmt: skip
    assert json.loads(payloads.body("1", "x", {}, time=T))["entry"][0]["time"] == T


def test_digits_and_unix() -> None:
    assert payloads.digits("+1 415-555-0100") == "14155550100"
    assert payloads.unix(dt.datetime(2025, 6, 8, 20, 59, 43, tzinfo=dt.UTC)) == T


# -- inbound messages --------------------------------------------------------------------


def test_text() -> None:
    assert inbound(Text("Does it come in another color?")) == {
        "from": "16505551234", "id": "wamid.IN1", "timestamp": str(T), "type": "text",
        "text": {"body": "Does it come in another color?"},
    }  # fmt: skip


def test_a_reply_carries_the_quoted_message_as_context() -> None:
    message = inbound(Text("yes"), Quoted("wamid.OUT1", "15550783881"))
    assert message["context"] == {"from": "15550783881", "id": "wamid.OUT1"}


def media(kind: str, mime: str, **extra: Any) -> Media:
    return Media(kind=kind, id="1003383421387256", mime_type=mime,
                 pointer={"file_sha256": SHA, "media_key": "secret"}, **extra)  # fmt: skip


def test_image_video_and_document_carry_caption_sha256_and_id() -> None:
    image = inbound(media("image", "image/jpeg", caption="Look"))
    assert image["type"] == "image"
    assert image["image"] == {"caption": "Look", "mime_type": "image/jpeg", "sha256": SHA,
                              "id": "1003383421387256"}  # fmt: skip
    video = inbound(media("video", "video/mp4"))
    assert video["video"] == {"mime_type": "video/mp4", "sha256": SHA, "id": "1003383421387256"}
    document = inbound(media("document", "application/pdf", file_name="bill.pdf",
                             caption="Your bill"))  # fmt: skip
    assert document["document"] == {"caption": "Your bill", "filename": "bill.pdf",
                                     "mime_type": "application/pdf", "sha256": SHA,
                                     "id": "1003383421387256"}  # fmt: skip
    # The media key never leaves the tenant.
    assert "secret" not in json.dumps(document)


def test_audio_says_whether_it_is_a_voice_note_and_a_sticker_whether_animated() -> None:
    voice = inbound(media("audio", "audio/ogg; codecs=opus"))
    assert voice["audio"]["voice"] is True
    song = inbound(media("audio", "audio/mpeg"))
    assert song["audio"] == {"mime_type": "audio/mpeg", "sha256": SHA,
                             "id": "1003383421387256", "voice": False}  # fmt: skip
    sticker = inbound(media("sticker", "image/webp", caption="ignored"))
    assert sticker["sticker"] == {"mime_type": "image/webp", "sha256": SHA,
                                  "id": "1003383421387256", "animated": False}  # fmt: skip


def test_reply_button_list_row_and_template_quick_reply_taps() -> None:
    tap = InteractiveReply("opt-1", "Yes please")
    button = inbound(tap, Quoted("wamid.OUT1", "15550783881", payloads.REPLY_BUTTON))
    assert button["type"] == "interactive" and button["context"]["id"] == "wamid.OUT1"
    assert button["interactive"] == {
        "type": "button_reply", "button_reply": {"id": "opt-1", "title": "Yes please"},
    }  # fmt: skip
    row = inbound(tap, Quoted("wamid.OUT2", "15550783881", payloads.REPLY_LIST))
    assert row["interactive"] == {"type": "list_reply",
                                  "list_reply": {"id": "opt-1", "title": "Yes please"}}  # fmt: skip
    quick = inbound(tap, Quoted("wamid.OUT3", "15550783881", payloads.REPLY_TEMPLATE))
    assert quick["type"] == "button"
    assert quick["button"] == {"payload": "opt-1", "text": "Yes please"}
    assert quick["context"] == {"from": "15550783881", "id": "wamid.OUT3"}
    # A tap whose message is unknown (an RCS suggested reply): a reply button, no context.
    loose = inbound(tap)
    assert loose["interactive"]["type"] == "button_reply" and "context" not in loose


def test_location_contacts_and_reaction() -> None:
    assert inbound(Location(37.48, -122.15, "Main St", "1 Main St"))["location"] == {
        "latitude": 37.48, "longitude": -122.15, "name": "Main St", "address": "1 Main St",
    }  # fmt: skip
    assert inbound(Location(1.5, 2.5))["location"] == {"latitude": 1.5, "longitude": 2.5}
    contacts = inbound(Contacts((Contact("Barbara J. Johnson", ("+16505559999",)),
                                 Contact("Cher", ()))))  # fmt: skip
    assert contacts["type"] == "contacts"
    assert contacts["contacts"] == [
        {"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara",
                  "last_name": "J. Johnson"},
         "phones": [{"phone": "+16505559999", "type": "CELL"}]},
        {"name": {"formatted_name": "Cher", "first_name": "Cher"}, "phones": []},
    ]  # fmt: skip
    reaction = inbound(Reaction("wamid.OUT1", "👍"), Quoted("wamid.OUT1", "15550783881"))
    assert reaction["reaction"] == {"message_id": "wamid.OUT1", "emoji": "👍"}
    assert "context" not in reaction
    assert inbound(Reaction("wamid.OUT1", ""))["reaction"] == {"message_id": "wamid.OUT1"}


def test_unsupported_carries_metas_error() -> None:
    message = inbound(Unsupported(reason="could not be decrypted"))
    assert message["type"] == "unsupported"
    assert message["errors"] == [{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "could not be decrypted"},
    }]  # fmt: skip
    default = inbound(Unsupported())
    assert default["errors"][0]["error_data"]["details"] == (
        "Message type is currently not supported."
    )


def test_an_rcs_action_tap_has_no_whatsapp_webhook() -> None:
    assert payloads.messages_value(NUMBER, CUSTOMER, Inbound("w", T, ActionTap("pb"))) is None


def test_a_customer_without_a_known_name_is_named_by_the_number() -> None:
    assert Customer("15551234567", "US.1").contact() == {
        "profile": {"name": "15551234567"}, "wa_id": "15551234567", "user_id": "US.1",
    }  # fmt: skip


# -- statuses ----------------------------------------------------------------------------

PRICED = Pricing(billable=True, category="marketing", type="regular")


def status(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "wamid": "wamid.OUT1", "status": "sent", "timestamp": T, "customer": CUSTOMER,
        "conversation": ConversationRef("a" * 32, "marketing", T + 86400), "pricing": PRICED,
    }  # fmt: skip
    fields.update(overrides)
    value = payloads.status_value(NUMBER, StatusUpdate(**fields))
    assert value["metadata"]["phone_number_id"] == "106540352242922"
    (item,) = value["statuses"]
    return {"contacts": value["contacts"], **item}


def test_sent_carries_conversation_with_expiry_and_pmp_pricing() -> None:
    assert status() == {
        "contacts": [{"wa_id": "16505551234", "user_id": "US.13491208655302741918"}],
        "id": "wamid.OUT1", "status": "sent", "timestamp": str(T),
        "recipient_id": "16505551234", "recipient_user_id": "US.13491208655302741918",
        "conversation": {"id": "a" * 32, "expiration_timestamp": str(T + 86400),
                         "origin": {"type": "marketing"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing",
                    "type": "regular"},
    }  # fmt: skip


def test_delivered_has_no_expiry_read_has_no_pricing() -> None:
    delivered = status(status="delivered", conversation=ConversationRef("b" * 32, "service"))
    assert delivered["conversation"] == {"id": "b" * 32, "origin": {"type": "service"}}
    assert delivered["pricing"]["pricing_model"] == "PMP"
    read = status(status="read")
    assert "pricing" not in read and "conversation" not in read
    assert read["recipient_user_id"] == "US.13491208655302741918"


def test_failed_carries_the_error_and_names_the_recipient_by_number() -> None:
    failed = status(status="failed", error_code=131047, error_title=(
        "Re-engagement message: more than 24 hours have passed since the customer last "
        "replied to this number"))  # fmt: skip
    assert failed["errors"] == [{
        "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
        "error_data": {"details": "more than 24 hours have passed since the customer last "
                                  "replied to this number"},
    }]  # fmt: skip
    assert "pricing" not in failed and "conversation" not in failed
    assert "recipient_user_id" not in failed
    assert failed["contacts"] == [{"wa_id": "16505551234"}]
    plain = status(status="failed", error_code=131026, error_title="Message undeliverable")
    assert plain["errors"][0]["title"] == plain["errors"][0]["error_data"]["details"]


@pytest.mark.parametrize("category", [c.value for c in WaCategory])
@pytest.mark.parametrize("window", [True, False])
def test_pricing_agrees_with_billing(category: str, window: bool) -> None:
    chargeable, _ = per_message_charge(WaCategory(category), window)
    pricing = payloads.price("" if category == "service" else category, window)
    assert pricing.billable is chargeable
    assert pricing.category == category
    assert pricing.type == ("regular" if chargeable else "free_customer_service")


def test_pricing_rules() -> None:
    assert payloads.price("", True) == Pricing(False, "service", "free_customer_service")
    assert payloads.price("utility", True) == Pricing(False, "utility", "free_customer_service")
    assert payloads.price("UTILITY", False) == Pricing(True, "utility", "regular")
    assert payloads.price("authentication", True) == Pricing(True, "authentication", "regular")


def test_the_window_is_24_hours_from_the_customers_last_message_end_included() -> None:
    opened = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    assert payloads.in_window(opened, opened)
    assert payloads.in_window(opened, opened + dt.timedelta(hours=24))
    assert not payloads.in_window(opened, opened + dt.timedelta(hours=24, seconds=1))
    assert not payloads.in_window(None, opened)
    assert payloads.window_end(opened) == opened + dt.timedelta(hours=24)


def test_conversation_ids_are_stable_opaque_hex() -> None:
    first = payloads.conversation_id("7:2026-03-02T09:00:00+00:00:service")
    assert first == payloads.conversation_id("7:2026-03-02T09:00:00+00:00:service")
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != payloads.conversation_id("8:2026-03-02T09:00:00+00:00:service")


# -- templates and quality ---------------------------------------------------------------


def template(event: str, **extra: Any) -> dict[str, Any]:
    return payloads.template_status_value(
        TemplateChange(
            template_id="1315502779341834",
            name="order_confirmation",
            language="en_US",
            event=event,
            category="UTILITY",
            timestamp=T,
            **extra,
        )
    )


def test_template_approved_and_rejected() -> None:
    assert template("APPROVED") == {
        "event": "APPROVED", "message_template_id": 1315502779341834,
        "message_template_name": "order_confirmation", "message_template_language": "en_US",
        "reason": "NONE", "message_template_category": "UTILITY",
    }  # fmt: skip
    assert template("REJECTED", reason="INCORRECT_CATEGORY")["reason"] == "INCORRECT_CATEGORY"


def test_template_paused_disabled_and_reinstated_explain_why() -> None:
    paused = template("PAUSED", reason="customers blocked it", previous_status="APPROVED")
    assert paused["reason"] == "NONE"
    assert paused["other_info"] == {"title": "FIRST_PAUSE", "description": "customers blocked it"}
    disabled = template("DISABLED", reason="low quality")
    assert disabled["disable_info"] == {"disable_date": str(T)}
    assert disabled["other_info"] == {"title": "DISABLED", "description": "low quality"}
    back = template("REINSTATED", previous_status="PAUSED")
    assert back["event"] == "REINSTATED" and back["other_info"]["title"] == "UNPAUSE"
    assert "other_info" not in template("REINSTATED", previous_status="DISABLED")
    assert "other_info" not in template("PENDING") and "disable_info" not in template("PENDING")


def test_quality_update_flagged_and_unflagged_only() -> None:
    assert payloads.quality_value("+1 555-078-3881", "FLAGGED", "TIER_2K") == {
        "display_phone_number": "15550783881", "event": "FLAGGED",
        "current_limit": "TIER_2K", "max_daily_conversations_per_business": "TIER_2K",
    }  # fmt: skip
    assert payloads.quality_value("+15550783881", "UNFLAGGED", "")["event"] == "UNFLAGGED"  # type: ignore[index]
    assert payloads.quality_value("+15550783881", "", "TIER_2K") is None


# -- the dashboard's samples -------------------------------------------------------------


def test_a_sample_for_every_field() -> None:
    for field in payloads.SAMPLE_FIELDS:
        document = json.loads(payloads.sample_body(field, time=T))
        (entry,) = document["entry"]
        (change,) = entry["changes"]
        assert document["object"] == "whatsapp_business_account" and entry["id"] == "0"
        assert change["field"] == field and change["value"] == payloads.sample_value(field)
        assert ("time" in entry) is (field != "messages")
    message = payloads.sample_value("messages")["messages"][0]
    assert message["text"] == {"body": "this is a text message"}
    assert payloads.sample_value("message_template_status_update")["event"] == "APPROVED"
    with pytest.raises(KeyError):
        payloads.sample_value("calls")
