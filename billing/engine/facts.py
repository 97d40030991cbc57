"""Message facts: what the engine is told about each message, and nothing more.

A fact is one message (or user action) between an agent and a customer, with its delivery
outcome. Content itself never reaches billing: only its class, its UTF-8 text length and
its payload size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from billing.engine.categories import BillingCategory
from billing.engine.countries import KNOWN_COUNTRIES
from billing.engine.errors import InvalidFactError, UnknownCountryError

# Undelivered messages are retried for 30 days, then expire and are never billed.
EXPIRY = timedelta(days=30)


class Direction(StrEnum):
    A2P = "A2P"  # application to person, MT: sent by the business
    P2A = "P2A"  # person to application, MO: sent or done by the customer


class Channel(StrEnum):
    RCS = "RCS"
    WHATSAPP = "WHATSAPP"


class Content(StrEnum):
    """What kind of message or user action the fact is."""

    TEXT = "text"  # plain text (A2P or P2A); a URL preview keeps it text
    RICH_CARD = "rich_card"  # rich card or carousel (A2P)
    MEDIA = "media"  # image, video, audio or file, with or without text
    SUGGESTED_REPLY_TAP = "suggested_reply_tap"  # P2A: sends the reply text, an MO message
    SUGGESTED_ACTION_TAP = "suggested_action_tap"  # P2A: a postback, not an MO message
    LOCATION_SHARE = "location_share"  # P2A: manual or via a suggested action, an MO message
    STOP_START = "stop_start"  # P2A: automatic STOP/START message, an MO message
    SUBSCRIPTION_EVENT = "subscription_event"  # P2A: the (un)subscribe webhook event, not MO


A2P_CONTENT = frozenset({Content.TEXT, Content.RICH_CARD, Content.MEDIA})
P2A_CONTENT = frozenset(Content) - {Content.RICH_CARD}


class Suggestions(StrEnum):
    """Suggestion chips on an A2P message.

    ``BASIC`` is suggested replies and the dial / open-URL-in-browser actions (the US model
    keeps those a rich message); ``ADVANCED`` is any other suggested action (calendar,
    location, webview URL, ...). In the standard model any suggestion makes a single_message.
    """

    NONE = "none"
    BASIC = "basic"
    ADVANCED = "advanced"


class WaCategory(StrEnum):
    """WhatsApp pricing category; ``SERVICE`` is a free-form (non-template) message."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    SERVICE = "service"


def utf8_len(text: str) -> int:
    """UTF-8 byte length: what the 160 limits count (an emoji is 4, Devanagari 3 a letter)."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class MessageFact:
    """One message or user action, as billing sees it.

    Times are timezone-aware. ``delivered_at`` is None while delivery is pending; for P2A
    facts it is when the platform received the message. ``expired`` marks a message whose
    30-day delivery attempt ended; an undelivered fact older than 30 days at rating time is
    treated as expired too. ``country`` may be given to skip deriving it from ``customer``;
    it must then be a known ISO 3166-1 alpha-2 code (:class:`UnknownCountryError` if not).
    """

    message_id: str
    business_id: str
    agent_id: str
    agent_category: BillingCategory
    customer: str
    direction: Direction
    content: Content
    sent_at: datetime
    delivered_at: datetime | None = None
    channel: Channel = Channel.RCS
    expired: bool = False
    text_bytes: int = 0
    suggestions: Suggestions = Suggestions.NONE
    url_preview: bool = False
    template_category: WaCategory | None = None
    size_bytes: int = 0
    country: str | None = None
    # A customer's (P2A) WhatsApp message from an ad or a Page's call-to-action button: a
    # business answer within 24 h opens a 72 h free entry point window.
    entry_point: bool = False

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            raise InvalidFactError(f"message {self.message_id!r}: {problem}")
        if self.country is not None and self.country not in KNOWN_COUNTRIES:
            raise UnknownCountryError(
                f"message {self.message_id!r}: country {self.country!r} is not an "
                "ISO 3166-1 alpha-2 country code"
            )

    @property
    def payload_bytes(self) -> int:
        """Size for the report: the payload size if known, else the text length."""
        return self.size_bytes or self.text_bytes


def _problem(f: MessageFact) -> str | None:
    if not f.message_id:
        return "message_id is empty"
    if not isinstance(f.agent_category, BillingCategory):
        return "agent_category must be a BillingCategory (use normalise_category)"
    if f.sent_at.tzinfo is None:
        return "sent_at must be timezone-aware"
    allowed = A2P_CONTENT if f.direction is Direction.A2P else P2A_CONTENT
    if f.content not in allowed:
        return f"content {f.content} is not possible for a {f.direction} message"
    if f.text_bytes < 0 or f.size_bytes < 0:
        return "sizes cannot be negative"
    if f.template_category is not None and f.channel is not Channel.WHATSAPP:
        return "template_category applies to WhatsApp messages only"
    if f.delivered_at is not None:
        if f.expired:
            return "a delivered message cannot be expired"
        if f.delivered_at.tzinfo is None:
            return "delivered_at must be timezone-aware"
        if f.delivered_at < f.sent_at:
            return "delivered before it was sent"
        if f.delivered_at - f.sent_at > EXPIRY:
            return "delivered after the 30-day expiry"
    return None
