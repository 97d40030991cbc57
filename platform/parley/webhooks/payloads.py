"""Meta's webhook envelope (`whatsapp_business_account`) for one change: pure, no Django.

A POST carries one entry with one change, as the Cloud API sends them:

    {"object": "whatsapp_business_account",
     "entry": [{"id": <WABA id>, "changes": [{"value": {...}, "field": "messages"}]}]}

Values follow Meta's webhook references (messages, status messages, message_template_status
_update, phone_number_quality_update) and what pywa 4.5.0 — a real receiver — parses:

* inbound messages carry `contacts [{profile {name}, wa_id, user_id}]` (the BSUID is in
  every messages webhook since April 2026) and one `messages` item: text, media (id,
  mime_type, sha256, caption, filename, voice, animated), interactive `button_reply` /
  `list_reply`, `button` (a template's quick reply), location, contacts, reaction, and
  `unsupported` with `errors`; `context {from, id}` when the message quotes another;
* statuses sent / delivered / read / failed: `id, status, timestamp (unix seconds, a
  string), recipient_id, recipient_user_id`, a `contacts` item (`wa_id`, `user_id`),
  `conversation {id, expiration_timestamp (sent only), origin {type}}` and per-message
  `pricing {billable, pricing_model "PMP", category, type}` on sent and delivered, and
  `errors [{code, title, message, error_data {details}}]` on failed;
* template status and quality updates carry the entry's `time` (unix seconds, a number),
  as Meta's do, and put `object` last, as Meta's do.

Encoding (`encode`): compact JSON, ASCII only, escaped as Meta's encoder does, because the
signature is over these exact bytes: every non-ASCII character as `\\uXXXX` with lowercase
hex (surrogate pairs beyond the BMP: "äöå" is `\\u00e4\\u00f6\\u00e5`), and, as Meta's
webhook docs say of their payloads, `/` as `\\/`, `<` as `\\u003C`, `%` as `\\u0025` and `@`
as `\\u0040`. A receiver that re-serialises the parsed JSON before checking the signature
fails here as it fails with Meta."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from parley.messaging.content import (
    ActionTap,
    Contacts,
    Content,
    InteractiveReply,
    Location,
    Media,
    Reaction,
    Text,
    Unsupported,
)

OBJECT = "whatsapp_business_account"
MESSAGING_PRODUCT = "whatsapp"
MESSAGES = "messages"
TEMPLATE_STATUS = "message_template_status_update"
QUALITY = "phone_number_quality_update"
ACCOUNT_UPDATE = "account_update"

# The statuses a business hears about (Meta has no webhook for accepted or expired).
STATUSES = ("sent", "delivered", "read", "failed")
PRICING_MODEL = "PMP"  # per-message pricing, in force since 2025-07-01
WINDOW = dt.timedelta(hours=24)  # the customer-service window

# What an interactive reply answers (the quoted message's kind).
REPLY_BUTTON = "button"
REPLY_LIST = "list"
REPLY_TEMPLATE = "template"

# Meta's unsupported-message error.
UNSUPPORTED_CODE = 131051
UNSUPPORTED_TITLE = "Message type unknown"
UNSUPPORTED_DETAILS = "Message type is currently not supported."

_ESCAPES = str.maketrans({"/": "\\/", "<": "\\u003C", "%": "\\u0025", "@": "\\u0040"})


# -- encoding ----------------------------------------------------------------------------


def encode(document: Any) -> str:
    """The body as Meta encodes it (see the module's docstring): ASCII, compact, escaped."""
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    # Outside strings JSON has none of these characters, so translating the whole text
    # only touches string contents (an escaped backslash stays one: "\\\\" then "\\/").
    return text.translate(_ESCAPES)


def envelope(
    waba_id: str, field: str, value: dict[str, Any], *, time: int | None = None
) -> dict[str, Any]:
    """One entry with one change. `time` (unix seconds) is the entry's, which Meta sends
    on every field but `messages`; those envelopes also put `object` last."""
    entry: dict[str, Any] = {"id": str(waba_id)}
    if time is not None:
        entry["time"] = int(time)
    entry["changes"] = [{"value": value, "field": field}]
    if time is None:
        return {"object": OBJECT, "entry": [entry]}
    return {"entry": [entry], "object": OBJECT}


def body(waba_id: str, field: str, value: dict[str, Any], *, time: int | None = None) -> str:
    return encode(envelope(waba_id, field, value, time=time))


def digits(number: str) -> str:
    """A phone number as webhooks write it: digits only ("+1 415-555-0100" → "14155550100")."""
    return "".join(ch for ch in number if ch.isdigit())


def unix(at: dt.datetime) -> int:
    return int(at.timestamp())


# -- who and where -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Number:
    """The business number a change is about (the value's `metadata`)."""

    phone_number_id: str
    display_phone_number: str  # digits

    def metadata(self) -> dict[str, str]:
        return {
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        }


@dataclasses.dataclass(frozen=True)
class Customer:
    wa_id: str  # digits
    user_id: str = ""  # the business-scoped user id (BSUID)
    name: str = ""  # the WhatsApp profile name; the wa_id when unknown

    def contact(self) -> dict[str, Any]:
        """The `contacts` item of an inbound message."""
        item: dict[str, Any] = {"profile": {"name": self.name or self.wa_id}, "wa_id": self.wa_id}
        if self.user_id:
            item["user_id"] = self.user_id
        return item


# -- inbound messages --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Quoted:
    """The message a customer's message answers: its wamid, who sent it (digits) and, for
    the business's interactive and template messages, what a tap on it is (REPLY_*)."""

    id: str
    sender: str
    kind: str = ""

    def context(self) -> dict[str, str]:
        return {"from": self.sender, "id": self.id}


@dataclasses.dataclass(frozen=True)
class Inbound:
    wamid: str
    timestamp: int  # unix seconds
    content: Content
    quoted: Quoted | None = None


def _media(content: Media) -> dict[str, Any]:
    pointer = content.pointer or {}
    media: dict[str, Any] = {}
    if content.caption and content.kind in ("image", "video", "document"):
        media["caption"] = content.caption
    if content.kind == "document" and content.file_name:
        media["filename"] = content.file_name
    media["mime_type"] = content.mime_type
    # The plaintext's SHA-256, base64, as the Signal attachment pointer (and Meta) has it.
    media["sha256"] = str(pointer.get("file_sha256") or "")
    media["id"] = content.media_id or content.id
    if content.kind == "audio":
        # A voice note is recorded in the app as Ogg Opus; other audio is a file.
        media["voice"] = content.mime_type.split(";")[0].strip() == "audio/ogg"
    if content.kind == "sticker":
        media["animated"] = False
    return media


def _contact_card(name: str, phones: tuple[str, ...]) -> dict[str, Any]:
    first, _, last = name.strip().partition(" ")
    card_name: dict[str, str] = {"formatted_name": name, "first_name": first or name}
    if last.strip():
        card_name["last_name"] = last.strip()
    return {"name": card_name, "phones": [{"phone": p, "type": "CELL"} for p in phones]}


def _content(content: Content, quoted: Quoted | None) -> dict[str, Any] | None:
    """The type-specific part of a `messages` item; None for what WhatsApp has no message
    for (an RCS suggested action's tap)."""
    if isinstance(content, Text):
        return {"type": "text", "text": {"body": content.body}}
    if isinstance(content, Media):
        return {"type": content.kind, content.kind: _media(content)}
    if isinstance(content, InteractiveReply):
        kind = quoted.kind if quoted is not None else ""
        if kind == REPLY_TEMPLATE:
            return {"type": "button", "button": {"payload": content.id, "text": content.title}}
        reply = "list_reply" if kind == REPLY_LIST else "button_reply"
        return {
            "type": "interactive",
            "interactive": {"type": reply, reply: {"id": content.id, "title": content.title}},
        }
    if isinstance(content, Location):
        location: dict[str, Any] = {"latitude": content.latitude, "longitude": content.longitude}
        if content.name:
            location["name"] = content.name
        if content.address:
            location["address"] = content.address
        return {"type": "location", "location": location}
    if isinstance(content, Contacts):
        return {
            "type": "contacts",
            "contacts": [_contact_card(c.name, c.phones) for c in content.contacts],
        }
    if isinstance(content, Reaction):
        reaction: dict[str, str] = {"message_id": content.message_id}
        if content.emoji:  # a removed reaction has no emoji
            reaction["emoji"] = content.emoji
        return {"type": "reaction", "reaction": reaction}
    if isinstance(content, ActionTap):
        return None
    details = content.reason if isinstance(content, Unsupported) and content.reason else ""
    return {
        "errors": [
            {
                "code": UNSUPPORTED_CODE,
                "title": UNSUPPORTED_TITLE,
                "message": UNSUPPORTED_TITLE,
                "error_data": {"details": details or UNSUPPORTED_DETAILS},
            }
        ],
        "type": "unsupported",
    }


def message_object(customer: Customer, message: Inbound) -> dict[str, Any] | None:
    """One item of a value's `messages`, or None when WhatsApp sends no webhook for it."""
    part = _content(message.content, message.quoted)
    if part is None:
        return None
    item: dict[str, Any] = {}
    quoted = message.quoted
    # A reaction names its message in `reaction.message_id`, not in a context.
    if quoted is not None and not isinstance(message.content, Reaction):
        item["context"] = quoted.context()
    item["from"] = customer.wa_id
    item["id"] = message.wamid
    item["timestamp"] = str(message.timestamp)
    item.update(part)
    referral = getattr(message.content, "referral", None)
    if referral is not None:
        item["referral"] = {k: v for k, v in dataclasses.asdict(referral).items() if v}
    return item


def messages_value(number: Number, customer: Customer, message: Inbound) -> dict[str, Any] | None:
    """The `messages` field's value for one inbound message (None: no webhook for it)."""
    item = message_object(customer, message)
    if item is None:
        return None
    return {
        "messaging_product": MESSAGING_PRODUCT,
        "metadata": number.metadata(),
        "contacts": [customer.contact()],
        "messages": [item],
    }


# -- statuses ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pricing:
    billable: bool
    category: str  # marketing, utility, authentication, service, referral_conversion
    type: str  # regular, free_customer_service, free_entry_point
    pricing_model: str = PRICING_MODEL

    def as_json(self) -> dict[str, Any]:
        return {
            "billable": self.billable,
            "pricing_model": self.pricing_model,
            "category": self.category,
            "type": self.type,
        }


# A message accepted inside a free entry point window (parley.messaging.entry_points): free,
# whatever its category, as the platform reports it.
FREE_ENTRY_POINT = Pricing(False, "referral_conversion", "free_entry_point")


def price(template_category: str, in_window: bool) -> Pricing:
    """Per-message pricing of one business message, the rule billing's engine applies
    (billing.engine.whatsapp.per_message_charge; a test holds the two together): marketing
    and authentication templates are charged; a utility template is free inside the
    customer-service window and charged outside it; a non-template (service) message is
    free. (A message in a free entry point window: FREE_ENTRY_POINT.)"""
    category = (template_category or "service").lower()
    if category == "service":
        return Pricing(False, "service", "free_customer_service")
    if category == "utility" and in_window:
        return Pricing(False, "utility", "free_customer_service")
    return Pricing(True, category, "regular")


def window_end(last_inbound: dt.datetime | None) -> dt.datetime | None:
    """When the customer-service window the customer's last message opened closes."""
    return None if last_inbound is None else last_inbound + WINDOW


def in_window(last_inbound: dt.datetime | None, at: dt.datetime) -> bool:
    """Whether `at` falls inside the window opened by the customer's last message before
    it (billing's rule: the window's end itself still counts)."""
    end = window_end(last_inbound)
    return end is not None and last_inbound is not None and last_inbound <= at <= end


def conversation_id(seed: str) -> str:
    """A stable opaque conversation id (32 hex digits, Meta's shape) for a seed."""
    return hashlib.sha256(f"parley-conversation:{seed}".encode()).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class ConversationRef:
    """A status's `conversation`: its id, its origin (the pricing category) and, on `sent`
    only, when it expires."""

    id: str
    origin: str
    expiration: int | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        if self.expiration is not None:
            data["expiration_timestamp"] = str(self.expiration)
        data["origin"] = {"type": self.origin}
        return data


@dataclasses.dataclass(frozen=True)
class StatusUpdate:
    wamid: str
    status: str  # sent, delivered, read, failed
    timestamp: int  # unix seconds
    customer: Customer
    conversation: ConversationRef | None = None
    pricing: Pricing | None = None
    error_code: int | None = None
    error_title: str = ""


def split_error(title: str) -> tuple[str, str]:
    """Parley's error titles read "Title: details"; Meta's errors carry the two apart."""
    head, sep, tail = title.partition(": ")
    if sep and head and tail:
        return head, tail
    return title, title


def status_object(update: StatusUpdate) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": update.wamid,
        "status": update.status,
        "timestamp": str(update.timestamp),
        "recipient_id": update.customer.wa_id,
    }
    failed = update.status == "failed"
    # A failed message's recipient is named by the number it was sent to.
    if update.customer.user_id and not failed:
        item["recipient_user_id"] = update.customer.user_id
    if update.status in ("sent", "delivered"):
        if update.conversation is not None:
            item["conversation"] = update.conversation.as_json()
        if update.pricing is not None:
            item["pricing"] = update.pricing.as_json()
    if failed:
        title, details = split_error(update.error_title or "Message failed to send")
        item["errors"] = [
            {
                "code": int(update.error_code or 131000),
                "title": title,
                "message": title,
                "error_data": {"details": details},
            }
        ]
    return item


def status_value(number: Number, update: StatusUpdate) -> dict[str, Any]:
    """The `messages` field's value for one status of a business message. The `contacts`
    item names the recipient (wa_id, and the BSUID except on failed)."""
    contact: dict[str, Any] = {"wa_id": update.customer.wa_id}
    if update.customer.user_id and update.status != "failed":
        contact["user_id"] = update.customer.user_id
    return {
        "messaging_product": MESSAGING_PRODUCT,
        "metadata": number.metadata(),
        "contacts": [contact],
        "statuses": [status_object(update)],
    }


# -- templates and numbers ---------------------------------------------------------------

# Meta's `other_info.title` for a pause and an unpause.
PAUSE_TITLE = "FIRST_PAUSE"
UNPAUSE_TITLE = "UNPAUSE"


@dataclasses.dataclass(frozen=True)
class TemplateChange:
    template_id: str  # the Graph id
    name: str
    language: str
    event: str  # APPROVED, REJECTED, PENDING, PAUSED, DISABLED, REINSTATED, DELETED, ...
    reason: str = "NONE"  # a rejection reason, or why it was paused or disabled
    category: str = ""  # MARKETING, UTILITY, AUTHENTICATION
    previous_status: str = ""
    timestamp: int = 0  # when it changed (unix seconds): a disabled template's date


def template_status_value(change: TemplateChange) -> dict[str, Any]:
    """The `message_template_status_update` value. `reason` is a rejection's reason and
    "NONE" otherwise; why a template was paused, disabled or reinstated goes in
    `other_info` (and a disabled one's date in `disable_info`)."""
    event = change.event.upper()
    why = "" if change.reason.upper() in ("", "NONE") else change.reason
    value: dict[str, Any] = {
        "event": event,
        "message_template_id": int(change.template_id)
        if change.template_id.isdigit()
        else change.template_id,
        "message_template_name": change.name,
        "message_template_language": change.language,
        "reason": (why or "NONE") if event == "REJECTED" else "NONE",
    }
    if change.category:
        value["message_template_category"] = change.category.upper()
    if event == "DISABLED":
        value["disable_info"] = {"disable_date": str(change.timestamp)}
    if event == "PAUSED":
        value["other_info"] = {
            "title": PAUSE_TITLE,
            "description": why
            or "Your message template has been paused because of low "
            "quality: customers blocked or reported it.",
        }
    elif event == "REINSTATED" and change.previous_status.upper() == "PAUSED":
        value["other_info"] = {
            "title": UNPAUSE_TITLE,
            "description": why or "Your message template has been unpaused.",
        }
    elif event == "DISABLED" and why:
        value["other_info"] = {"title": "DISABLED", "description": why}
    return value


def quality_value(
    display_phone_number: str, event: str, current_limit: str
) -> dict[str, Any] | None:
    """The `phone_number_quality_update` value, or None when there is no Meta event for
    the change (a move between GREEN and YELLOW: Meta sends FLAGGED when a number falls to
    low quality and UNFLAGGED when it recovers). `current_limit` is the portfolio's tier,
    also sent as `max_daily_conversations_per_business`, which replaces it."""
    if not event:
        return None
    value: dict[str, Any] = {"display_phone_number": digits(display_phone_number), "event": event}
    if current_limit:
        value["current_limit"] = current_limit
        value["max_daily_conversations_per_business"] = current_limit
    return value


# -- the App Dashboard's "Test" button ---------------------------------------------------

SAMPLE_WABA_ID = "0"
SAMPLE_NUMBER = Number(phone_number_id="123456123", display_phone_number="16505551111")
SAMPLE_CUSTOMER = Customer(wa_id="16315551181", user_id="US.13491208655302741918",
                           name="test user name")  # fmt: skip


def sample_value(field: str) -> dict[str, Any]:
    """The sample value Meta's App Dashboard sends for a field's "Test" button (its fixed
    ids and texts), with the BSUID every messages webhook now carries. KeyError for a field
    with no sample."""
    if field == MESSAGES:
        message = Inbound("ABGGFlA5Fpa", 1504902988, Text("this is a text message"))
        value = messages_value(SAMPLE_NUMBER, SAMPLE_CUSTOMER, message)
        assert value is not None
        return value
    if field == TEMPLATE_STATUS:
        return {
            "event": "APPROVED",
            "message_template_id": 12345678,
            "message_template_name": "my_message_template",
            "message_template_language": "en_US",
            "reason": "NONE",
        }
    if field == QUALITY:
        return {
            "display_phone_number": SAMPLE_NUMBER.display_phone_number,
            "event": "FLAGGED",
            "current_limit": "TIER_10K",
        }
    if field == ACCOUNT_UPDATE:
        return {"phone_number": SAMPLE_NUMBER.display_phone_number, "event": "VERIFIED_ACCOUNT"}
    raise KeyError(field)


SAMPLE_FIELDS = (MESSAGES, TEMPLATE_STATUS, QUALITY, ACCOUNT_UPDATE)


def sample_body(field: str, *, time: int) -> str:
    """A whole test POST for a field (`time`: the entry's, for every field but messages)."""
    return body(SAMPLE_WABA_ID, field, sample_value(field),
                time=None if field == MESSAGES else time)  # fmt: skip
