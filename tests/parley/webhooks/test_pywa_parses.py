"""A real receiver, pywa 4.5.0 unmodified, reads what Parley sends: bodies Parley built and
signed go through pywa's own webhook path for a custom server (`webhook_update_validator`
with the X-Hub-Signature-256 header, signature check on, then `webhook_update_handler`),
and every message and status type comes out as the right pywa type with the right
fields. pywa logs (does not raise) when it cannot build an update and warns on a value it
does not know: both fail these tests (no update arrives; warnings are errors)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Mapping
from typing import Any

import pytest
from pywa import WhatsApp, handlers
from pywa.types import (
    AccountUpdate,
    CallbackButton,
    CallbackSelection,
    Message,
    MessageStatus,
    MessageStatusType,
    MessageType,
    RawUpdate,
)
from pywa.types.message_status import (
    ConversationCategory,
    PricingCategory,
    PricingModel,
    PricingType,
)
from pywa.types.templates import TemplateStatus, TemplateStatusUpdate

from parley.messaging.content import (
    Contact,
    Contacts,
    InteractiveReply,
    Location,
    Media,
    Reaction,
    Referral,
    Text,
    Unsupported,
)
from parley.webhooks import payloads, signing
from parley.webhooks.payloads import (
    ConversationRef,
    Customer,
    Inbound,
    Number,
    Quoted,
    StatusUpdate,
    TemplateChange,
)

APP_SECRET = "8c5e1f0d2b7a4e6f9a3c1b5d7e9f0a2c"
WABA = "102290129340398"
NUMBER = Number(phone_number_id="106540352242922", display_phone_number="15550783881")
CUSTOMER = Customer(wa_id="16505551234", user_id="US.13491208655302741918",
                    name="Zoë Ångström")  # fmt: skip
T = 1772442000  # 2026-03-02 09:00 UTC
SHA = "tLZ7+k6CRqxuF8xiRJw3qqUiJKdTvMu7GHmdEdnJg4s="


class Receiver:
    """A business's receiver built on pywa, as its docs say to wire a custom server."""

    def __init__(self, secret: str = APP_SECRET, *, filter_updates: bool = True,
                 phone_id: str = NUMBER.phone_number_id, waba_id: str = WABA) -> None:  # fmt: skip
        self.wa = WhatsApp(phone_id=phone_id, waba_id=waba_id, server=None,
                           verify_token="let-me-in", app_secret=secret,
                           filter_updates=filter_updates)  # fmt: skip
        self.updates: list[Any] = []
        self.raw: list[RawUpdate] = []
        keep = self.updates.append
        self.wa.add_handlers(
            handlers.MessageHandler(lambda _, u: keep(u)),
            handlers.CallbackButtonHandler(lambda _, u: keep(u)),
            handlers.CallbackSelectionHandler(lambda _, u: keep(u)),
            handlers.MessageStatusHandler(lambda _, u: keep(u)),
            handlers.TemplateStatusUpdateHandler(lambda _, u: keep(u)),
            handlers.AccountUpdateHandler(lambda _, u: keep(u)),
            handlers.RawUpdateHandler(lambda _, u: self.raw.append(u)),
        )

    def post(self, body: bytes, headers: Mapping[str, str]) -> tuple[str, int]:
        """What the receiver's view does with a POST."""
        signature = {k.lower(): v for k, v in headers.items()}.get("x-hub-signature-256")
        error = self.wa.webhook_update_validator(body, signature)
        if error:
            return error
        return self.wa.webhook_update_handler(body)


def deliver(value: dict[str, Any] | None, field: str = "messages", *, time: int | None = None,
            receiver: Receiver | None = None, strict: bool = True) -> Any:  # fmt: skip
    """Send one Parley-built, Parley-signed change; the one update pywa built from it."""
    assert value is not None
    receiver = receiver or Receiver()
    body = payloads.body(WABA, field, value, time=time).encode("ascii")
    headers = signing.headers_for(body, "wh_test", T, [APP_SECRET])
    with warnings.catch_warnings():
        if strict:
            warnings.simplefilter("error")
        assert receiver.post(body, headers) == ("ok", 200)
    (raw,) = receiver.raw
    assert raw.raw == body and raw.field == field
    assert len(receiver.updates) <= 1
    return receiver.updates[0] if receiver.updates else raw


def inbound(content: Any, quoted: Quoted | None = None) -> Any:
    message = Inbound("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA=", T,
                      content, quoted)  # fmt: skip
    update = deliver(payloads.messages_value(NUMBER, CUSTOMER, message))
    assert update.id == message.wamid and update.waba_id == WABA
    assert update.metadata.phone_number_id == NUMBER.phone_number_id
    assert update.metadata.display_phone_number == "15550783881"
    assert update.from_user.wa_id == "16505551234"
    assert update.from_user.bsuid == "US.13491208655302741918"
    assert update.from_user.name == "Zoë Ångström"
    assert update.timestamp == dt.datetime.fromtimestamp(T, dt.UTC)
    return update


# -- messages ----------------------------------------------------------------------------


def test_text_with_non_ascii_and_slashes() -> None:
    message = inbound(Text("Grüße 😀 — see https://example.test/a?b=1 <ok> 50% me@x.test"))
    assert isinstance(message, Message) and message.type == MessageType.TEXT
    assert message.text == "Grüße 😀 — see https://example.test/a?b=1 <ok> 50% me@x.test"
    assert message.reply_to_message is None


def test_a_first_message_from_an_ad_carries_its_referral() -> None:
    ad = Referral(
        source_url="https://fb.me/3cr4Wqqkv",
        source_id="120211234567890",
        headline="Winter sale",
        body="Up to 50% off",
        media_type="video",
        video_url="https://example.test/ad.mp4",
        thumbnail_url="https://example.test/ad.jpg",
        ctwa_clid="ARAkLkA8rmlF",
    )
    message = inbound(Text("Is the sale on?", referral=ad))
    assert message.text == "Is the sale on?"
    assert message.referral is not None
    assert (message.referral.source_type, message.referral.source_id) == ("ad", "120211234567890")
    assert message.referral.ctwa_clid == "ARAkLkA8rmlF"
    assert message.referral.video_url == "https://example.test/ad.mp4"
    assert message.referral.image_url is None  # empty parts are left out, as Meta does


def test_a_reply_names_the_quoted_message() -> None:
    message = inbound(Text("this one"), Quoted("wamid.OUT1", "15550783881"))
    assert message.reply_to_message is not None
    assert message.reply_to_message.id == "wamid.OUT1"
    assert message.reply_to_message.from_user_id == "15550783881"


def media(kind: str, mime: str, **extra: Any) -> Media:
    return Media(kind=kind, id="1003383421387256", mime_type=mime,
                 pointer={"file_sha256": SHA}, **extra)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (media("image", "image/jpeg", caption="Look at this"), MessageType.IMAGE),
        (media("video", "video/mp4", caption="Clip"), MessageType.VIDEO),
        (media("document", "application/pdf", file_name="bill.pdf", caption="Bill"),
         MessageType.DOCUMENT),
        (media("audio", "audio/ogg; codecs=opus"), MessageType.AUDIO),
        (media("sticker", "image/webp"), MessageType.STICKER),
    ],
)  # fmt: skip
def test_media(content: Media, kind: MessageType) -> None:
    message = inbound(content)
    assert message.type == kind and message.has_media
    assert (message.media.id, message.media.sha256, message.media.mime_type) == (
        "1003383421387256", SHA, content.mime_type,
    )  # fmt: skip
    if kind in (MessageType.IMAGE, MessageType.VIDEO, MessageType.DOCUMENT):
        assert message.caption == content.caption
    if kind == MessageType.DOCUMENT:
        assert message.document.filename == "bill.pdf"
    if kind == MessageType.AUDIO:
        assert message.voice is message.audio  # a voice note
    if kind == MessageType.STICKER:
        assert message.sticker.animated is False


def test_reply_button_tap() -> None:
    tap = inbound(InteractiveReply("yes-1", "Yes"),
                  Quoted("wamid.OUT1", "15550783881", payloads.REPLY_BUTTON))  # fmt: skip
    assert isinstance(tap, CallbackButton) and not tap.is_quick_reply
    assert tap.reply_to_message is not None
    assert (tap.data, tap.title, tap.reply_to_message.id) == ("yes-1", "Yes", "wamid.OUT1")


def test_list_row_tap() -> None:
    tap = inbound(InteractiveReply("row-2", "Tuesday"),
                  Quoted("wamid.OUT2", "15550783881", payloads.REPLY_LIST))  # fmt: skip
    assert isinstance(tap, CallbackSelection)
    assert (tap.data, tap.title, tap.reply_to_message.id) == ("row-2", "Tuesday", "wamid.OUT2")


def test_template_quick_reply_tap() -> None:
    tap = inbound(InteractiveReply("STOP", "Stop promotions"),
                  Quoted("wamid.OUT3", "15550783881", payloads.REPLY_TEMPLATE))  # fmt: skip
    assert isinstance(tap, CallbackButton) and tap.is_quick_reply
    assert (tap.data, tap.title) == ("STOP", "Stop promotions")


def test_location() -> None:
    message = inbound(Location(37.483307, -122.148981, "Pablo Morales", "1 Hacker Way"))
    assert message.type == MessageType.LOCATION
    assert (message.location.latitude, message.location.longitude) == (37.483307, -122.148981)
    assert (message.location.name, message.location.address) == ("Pablo Morales", "1 Hacker Way")


def test_contacts() -> None:
    message = inbound(Contacts((Contact("Barbara Johnson", ("+16505559999", "+16505558888")),)))
    assert message.type == MessageType.CONTACTS
    (card,) = message.contacts
    assert card.name.formatted_name == "Barbara Johnson" and card.name.first_name == "Barbara"
    assert [p.phone for p in card.phones] == ["+16505559999", "+16505558888"]


def test_reaction_and_its_removal() -> None:
    added = inbound(Reaction("wamid.OUT1", "❤️"))
    assert added.type == MessageType.REACTION
    assert (added.reaction.message_id, added.reaction.emoji) == ("wamid.OUT1", "❤️")
    assert added.message_id_to_reply == "wamid.OUT1"
    removed = inbound(Reaction("wamid.OUT1", ""))
    assert removed.reaction.is_removed


def test_unsupported_with_its_error() -> None:
    message = inbound(Unsupported(reason="could not be decrypted"))
    assert message.type == MessageType.UNSUPPORTED
    assert message.error is not None and message.error.code == 131051
    assert message.error.details == "could not be decrypted"


# -- statuses ----------------------------------------------------------------------------


def status(update: StatusUpdate) -> MessageStatus[Any]:
    parsed = deliver(payloads.status_value(NUMBER, update))
    assert isinstance(parsed, MessageStatus)
    assert parsed.id == update.wamid and parsed.from_user.wa_id == "16505551234"
    assert parsed.timestamp == dt.datetime.fromtimestamp(update.timestamp, dt.UTC)
    return parsed


def test_sent_with_conversation_and_per_message_pricing() -> None:
    sent = status(StatusUpdate(
        "wamid.OUT1", "sent", T, CUSTOMER,
        ConversationRef("f5fdae3920125a39a1e6a23e5f877c16", "marketing", T + 86400),
        payloads.price("marketing", in_window=True),
    ))  # fmt: skip
    assert sent.status == MessageStatusType.SENT
    assert sent.from_user.bsuid == "US.13491208655302741918"
    assert sent.pricing is not None and sent.pricing.billable is True
    assert sent.pricing.model == PricingModel.PMP
    assert sent.pricing.type == PricingType.REGULAR
    assert sent.pricing.category == PricingCategory.MARKETING
    assert sent.conversation is not None
    assert sent.conversation.id == "f5fdae3920125a39a1e6a23e5f877c16"
    assert sent.conversation.category == ConversationCategory.MARKETING
    assert sent.conversation.expiration == dt.datetime.fromtimestamp(T + 86400, dt.UTC)


def test_delivered_free_in_the_service_window() -> None:
    delivered = status(StatusUpdate(
        "wamid.OUT1", "delivered", T + 2, CUSTOMER,
        ConversationRef("a" * 32, "utility"), payloads.price("utility", in_window=True),
    ))  # fmt: skip
    assert delivered.status == MessageStatusType.DELIVERED
    assert delivered.pricing is not None and delivered.pricing.billable is False
    assert delivered.pricing.type == PricingType.FREE_CUSTOMER_SERVICE
    assert delivered.pricing.category == PricingCategory.UTILITY
    assert delivered.conversation is not None and delivered.conversation.expiration is None
    service = status(StatusUpdate(
        "wamid.OUT2", "delivered", T, CUSTOMER, ConversationRef("b" * 32, "service"),
        payloads.price("", in_window=True),
    ))  # fmt: skip
    assert service.pricing is not None and service.pricing.category == PricingCategory.SERVICE


def test_read() -> None:
    read = status(StatusUpdate("wamid.OUT1", "read", T + 5, CUSTOMER))
    assert read.status == MessageStatusType.READ
    assert read.pricing is None and read.conversation is None and read.error is None


def test_failed_with_its_error() -> None:
    failed = status(StatusUpdate(
        "wamid.OUT1", "failed", T, CUSTOMER, error_code=131047,
        error_title="Re-engagement message: more than 24 hours have passed since the "
                    "customer last replied to this number",
    ))  # fmt: skip
    assert failed.status == MessageStatusType.FAILED
    assert failed.error is not None and failed.error.code == 131047
    assert failed.error.message == "Re-engagement message"
    assert (failed.error.details or "").startswith("more than 24 hours")
    assert failed.from_user.bsuid is None  # sent to a phone number


# -- templates and quality ---------------------------------------------------------------


def template(event: str, **extra: Any) -> TemplateStatusUpdate:
    change = TemplateChange("1315502779341834", "order_confirmation", "en_US", event,
                            category="UTILITY", timestamp=T, **extra)  # fmt: skip
    update = deliver(payloads.template_status_value(change), "message_template_status_update",
                     time=T)  # fmt: skip
    assert isinstance(update, TemplateStatusUpdate)
    assert (update.id, update.template_id, update.template_name) == (
        WABA, "1315502779341834", "order_confirmation",
    )  # fmt: skip
    assert update.template_language.value == "en_US"
    assert update.timestamp == dt.datetime.fromtimestamp(T, dt.UTC)
    return update


def test_template_status_updates() -> None:
    approved = template("APPROVED")
    assert approved.new_status == TemplateStatus.APPROVED
    assert approved.category is not None and approved.category.value == "UTILITY"
    assert approved.reason is not None and approved.reason.value == "NONE"
    rejected = template("REJECTED", reason="INCORRECT_CATEGORY")
    assert rejected.new_status == TemplateStatus.REJECTED
    assert rejected.reason is not None and rejected.reason.value == "INCORRECT_CATEGORY"
    paused = template("PAUSED", reason="Customers blocked it", previous_status="APPROVED")
    assert paused.new_status == TemplateStatus.PAUSED
    assert paused.other_info is not None
    assert paused.other_info.description == "Customers blocked it"
    disabled = template("DISABLED", reason="low quality", previous_status="PAUSED")
    assert disabled.disable_info is not None
    assert disabled.disable_info.disable_date == dt.datetime.fromtimestamp(T, dt.UTC)
    back = template("REINSTATED", previous_status="PAUSED")
    assert back.new_status == TemplateStatus.REINSTATED


def test_quality_update_reaches_the_raw_handler_pywa_has_no_type_for() -> None:
    value = payloads.quality_value("+1 555-078-3881", "FLAGGED", "TIER_2K")
    raw = deliver(value, "phone_number_quality_update", time=T)
    assert isinstance(raw, RawUpdate)
    assert raw.id == WABA and raw.field == "phone_number_quality_update"
    assert raw.value == {"display_phone_number": "15550783881", "event": "FLAGGED",
                         "current_limit": "TIER_2K",
                         "max_daily_conversations_per_business": "TIER_2K"}  # fmt: skip


def test_the_dashboards_samples() -> None:
    for field in payloads.SAMPLE_FIELDS:
        receiver = Receiver(filter_updates=False)  # samples name WABA "0"
        body = payloads.sample_body(field, time=T).encode("ascii")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the account_update sample's VERIFIED_ACCOUNT
            assert receiver.post(body, signing.headers_for(body, "wh", T, [APP_SECRET])) == (
                "ok", 200,
            )  # fmt: skip
        (raw,) = receiver.raw
        assert raw.field == field and raw.id == "0"
        if field == "messages":
            (message,) = receiver.updates
            assert isinstance(message, Message) and message.text == "this is a text message"
        elif field == "message_template_status_update":
            (update,) = receiver.updates
            assert isinstance(update, TemplateStatusUpdate)
            assert update.new_status == TemplateStatus.APPROVED
        elif field == "account_update":
            (account,) = receiver.updates  # an event pywa does not list: UNKNOWN, still built
            assert isinstance(account, AccountUpdate)


# -- the signature -----------------------------------------------------------------------


def signed_text() -> tuple[bytes, dict[str, str]]:
    message = Inbound("wamid.IN1", T, Text("héllo / there"))
    value = payloads.messages_value(NUMBER, CUSTOMER, message)
    assert value is not None
    body = payloads.body(WABA, "messages", value).encode()
    return body, signing.headers_for(body, "wh", T, [APP_SECRET])


def test_a_receiver_with_another_secret_rejects_the_post() -> None:
    body, headers = signed_text()
    receiver = Receiver(secret="not-the-app-secret")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert receiver.post(body, headers) == ("Forbidden", 403)
    assert receiver.updates == [] and receiver.raw == []


def test_the_previous_secret_after_a_rotation_is_rejected_by_hub_signature() -> None:
    body = signed_text()[0]
    headers = signing.headers_for(body, "wh", T, ["new-secret", APP_SECRET])
    receiver = Receiver()  # still holds the old secret: X-Hub-Signature-256 is the new one's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert receiver.post(body, headers) == ("Forbidden", 403)
    assert signing.verify_headers(APP_SECRET, body, headers, now=T)  # Standard Webhooks: ok


def test_a_tampered_or_unsigned_body_is_rejected() -> None:
    body, headers = signed_text()
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reserialised != body and json.loads(reserialised) == json.loads(body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Receiver().post(reserialised, headers) == ("Forbidden", 403)
        assert Receiver().post(body, {"Content-Type": "application/json"}) == (
            "Unauthorized", 401,
        )  # fmt: skip
    good = Receiver()
    assert good.post(body, {k.lower(): v for k, v in headers.items()}) == ("ok", 200)
    (message,) = good.updates
    assert message.text == "héllo / there"
