"""The typed content of a message: pure dataclasses, validated from and to JSON.

One shape per content class the platform carries — WhatsApp's (text, media, interactive,
template, location, contacts, reaction) and RCS's (rich card, carousel, suggestions) — and
`billing_class` maps each to the class billing rates. No Django here."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

# Content classes billing rates (billing.engine.facts.Content values). Kept as strings so
# this module stays free of the billing app; a test checks them against billing's enum.
BILL_TEXT = "text"
BILL_RICH_CARD = "rich_card"
BILL_MEDIA = "media"
BILL_REPLY_TAP = "suggested_reply_tap"
BILL_ACTION_TAP = "suggested_action_tap"
BILL_LOCATION = "location_share"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_TITLE = 200
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
TEMPLATE_CATEGORIES = ("marketing", "utility", "authentication")
# Suggestions that keep an RCS message "basic" (US model); anything else is "advanced".
BASIC_SUGGESTIONS = frozenset({"reply", "dial", "open_url"})
SUGGESTION_KINDS = (
    "reply", "dial", "open_url", "webview", "calendar", "view_location", "share_location",
)  # fmt: skip


class ContentError(ValueError):
    """The content is malformed; the message says which field and why."""


# -- validation helpers ------------------------------------------------------------------


def _str(data: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ContentError(f"{key} must be a string.")
    if required and not value.strip():
        raise ContentError(f"{key} is required.")
    if len(value) > limit:
        raise ContentError(f"{key} is longer than {limit} characters.")
    return value


def _float(data: dict[str, Any], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContentError(f"{key} must be a number.")
    if not low <= float(value) <= high:
        raise ContentError(f"{key} must be between {low:g} and {high:g}.")
    return float(value)


def _list(data: dict[str, Any], key: str, *, low: int, high: int) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
        raise ContentError(f"{key} must be a list of objects.")
    if not low <= len(value) <= high:
        raise ContentError(f"{key} must have {low} to {high} items.")
    return [dict(v) for v in value]


# -- the parts ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """An RCS suggestion chip: a reply (sends its text back) or an action."""

    kind: str
    text: str
    postback: str = ""
    url: str = ""  # open_url / webview
    phone: str = ""  # dial

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Suggestion:
        kind = _str(data, "kind", limit=20)
        if kind not in SUGGESTION_KINDS:
            raise ContentError(f"suggestion kind must be one of {', '.join(SUGGESTION_KINDS)}.")
        url = _str(data, "url", limit=2000, required=kind in ("open_url", "webview"))
        return cls(
            kind=kind,
            text=_str(data, "text", limit=25),
            postback=_str(data, "postback", limit=2048, required=False),
            url=url,
            phone=_str(data, "phone", limit=20, required=kind == "dial"),
        )


def _suggestions(data: dict[str, Any], high: int = 11) -> tuple[Suggestion, ...]:
    return tuple(Suggestion.parse(s) for s in _list(data, "suggestions", low=0, high=high))


@dataclasses.dataclass(frozen=True)
class Button:
    id: str
    title: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Button:
        return cls(id=_str(data, "id", limit=256), title=_str(data, "title", limit=20))


@dataclasses.dataclass(frozen=True)
class Contact:
    name: str
    phones: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Contact:
        phones = data.get("phones", [])
        if not isinstance(phones, list | tuple) or not all(isinstance(p, str) for p in phones):
            raise ContentError("phones must be a list of strings.")
        return cls(name=_str(data, "name", limit=MAX_TITLE), phones=tuple(phones))


# -- the content classes -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Content:
    type: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **dataclasses.asdict(self)}

    def preview(self) -> str:
        """A one-line text for lists and for devices that cannot show the content."""
        return f"[{self.type}]"


REFERRAL_SOURCES = ("ad", "post")
REFERRAL_MEDIA = ("image", "video")


@dataclasses.dataclass(frozen=True)
class Referral:
    """The ad or post a customer tapped to start the chat (a click-to-WhatsApp ad): it
    rides on the first message they send, as Meta's `referral` object."""

    source_url: str
    source_id: str
    source_type: str = "ad"
    headline: str = ""
    body: str = ""
    media_type: str = ""
    image_url: str = ""
    video_url: str = ""
    thumbnail_url: str = ""
    ctwa_clid: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Referral:
        if not isinstance(data, dict):
            raise ContentError("referral must be an object.")
        source_type = data.get("source_type", "ad")
        if source_type not in REFERRAL_SOURCES:
            raise ContentError(
                f"referral.source_type must be one of {', '.join(REFERRAL_SOURCES)}."
            )
        media_type = data.get("media_type") or ""
        if media_type and media_type not in REFERRAL_MEDIA:
            raise ContentError(f"referral.media_type must be one of {', '.join(REFERRAL_MEDIA)}.")
        url = 2048
        return cls(
            source_url=_str(data, "source_url", limit=url),
            source_id=_str(data, "source_id", limit=64),
            source_type=source_type,
            headline=_str(data, "headline", limit=MAX_TITLE, required=False),
            body=_str(data, "body", limit=MAX_CAPTION, required=False),
            media_type=media_type,
            image_url=_str(data, "image_url", limit=url, required=False),
            video_url=_str(data, "video_url", limit=url, required=False),
            thumbnail_url=_str(data, "thumbnail_url", limit=url, required=False),
            ctwa_clid=_str(data, "ctwa_clid", limit=256, required=False),
        )


@dataclasses.dataclass(frozen=True)
class Text(Content):
    type: ClassVar[str] = "text"
    body: str
    preview_url: bool = False
    suggestions: tuple[Suggestion, ...] = ()
    # A customer's first message from an ad (inbound only).
    referral: Referral | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Text:
        preview = data.get("preview_url", False)
        if not isinstance(preview, bool):
            raise ContentError("preview_url must be true or false.")
        raw = data.get("referral")
        referral = Referral.parse(raw) if raw is not None else None
        return cls(_str(data, "body", limit=MAX_TEXT), preview, _suggestions(data), referral)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.referral is None:
            del data["referral"]  # the stored shape of every other text stays as it was
        return data

    def preview(self) -> str:
        return self.body


@dataclasses.dataclass(frozen=True)
class Media(Content):
    """A reference to an encrypted attachment (the key material stays in the tenant)."""

    type: ClassVar[str] = "media"
    kind: str
    id: str
    mime_type: str = "application/octet-stream"
    file_name: str = ""
    file_length: int = 0
    caption: str = ""
    pointer: dict[str, Any] | None = None  # what the e2ee media path needs to send it
    # A customer's media: its Graph media id (GET /{version}/{media_id} reads it).
    media_id: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Media:
        kind = _str(data, "kind", limit=10)
        if kind not in MEDIA_KINDS:
            raise ContentError(f"media kind must be one of {', '.join(MEDIA_KINDS)}.")
        length = data.get("file_length", 0)
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ContentError("file_length must be a whole number of bytes.")
        pointer = data.get("pointer")
        if pointer is not None and not isinstance(pointer, dict):
            raise ContentError("pointer must be an object.")
        return cls(
            kind=kind,
            id=_str(data, "id", limit=200),
            mime_type=_str(data, "mime_type", limit=200, required=False)
            or "application/octet-stream",
            file_name=_str(data, "file_name", limit=240, required=False),
            file_length=length,
            caption=_str(data, "caption", limit=MAX_CAPTION, required=False),
            pointer=dict(pointer) if pointer else None,
            media_id=_str(data, "media_id", limit=20, required=False),
        )

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if not self.media_id:
            del data["media_id"]
        return data

    def preview(self) -> str:
        return self.caption or f"[{self.kind} {self.file_name}]".replace(" ]", "]")


@dataclasses.dataclass(frozen=True)
class Interactive(Content):
    """WhatsApp interactive: reply buttons (≤ 3), a list (≤ 10 rows) or a CTA URL button."""

    type: ClassVar[str] = "interactive"
    kind: str  # button | list | cta_url
    body: str
    buttons: tuple[Button, ...] = ()
    url: str = ""
    display_text: str = ""
    header: str = ""
    footer: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Interactive:
        kind = _str(data, "kind", limit=10)
        body = _str(data, "body", limit=1024)
        header = _str(data, "header", limit=60, required=False)
        footer = _str(data, "footer", limit=60, required=False)
        if kind == "button":
            buttons = tuple(Button.parse(b) for b in _list(data, "buttons", low=1, high=3))
            return cls(kind, body, buttons, header=header, footer=footer)
        if kind == "list":
            rows = tuple(Button.parse(b) for b in _list(data, "buttons", low=1, high=10))
            return cls(kind, body, rows, header=header, footer=footer)
        if kind == "cta_url":
            return cls(kind, body, url=_str(data, "url", limit=2000),
                       display_text=_str(data, "display_text", limit=20), header=header,
                       footer=footer)  # fmt: skip
        raise ContentError("interactive kind must be button, list or cta_url.")

    def preview(self) -> str:
        return self.body


@dataclasses.dataclass(frozen=True)
class InteractiveReply(Content):
    """The customer tapped a reply button, a list row or an RCS suggested reply."""

    type: ClassVar[str] = "interactive_reply"
    id: str
    title: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> InteractiveReply:
        return cls(_str(data, "id", limit=2048), _str(data, "title", limit=MAX_TITLE))

    def preview(self) -> str:
        return self.title


@dataclasses.dataclass(frozen=True)
class ActionTap(Content):
    """The customer tapped an RCS suggested action (a postback, not a message)."""

    type: ClassVar[str] = "action_tap"
    postback: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ActionTap:
        return cls(_str(data, "postback", limit=2048))


@dataclasses.dataclass(frozen=True)
class Template(Content):
    type: ClassVar[str] = "template"
    name: str
    language: str
    category: str
    parameters: tuple[str, ...] = ()
    # The texts as the customer sees them, parameters filled in ("" when not rendered).
    header: str = ""
    body: str = ""
    footer: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Template:
        category = _str(data, "category", limit=20).lower()
        if category not in TEMPLATE_CATEGORIES:
            raise ContentError(f"category must be one of {', '.join(TEMPLATE_CATEGORIES)}.")
        params = data.get("parameters", [])
        if not isinstance(params, list | tuple) or not all(isinstance(p, str) for p in params):
            raise ContentError("parameters must be a list of strings.")
        return cls(
            _str(data, "name", limit=512),
            _str(data, "language", limit=15),
            category,
            tuple(params),
            header=_str(data, "header", limit=MAX_TITLE, required=False),
            body=_str(data, "body", limit=MAX_TEXT, required=False),
            footer=_str(data, "footer", limit=MAX_TITLE, required=False),
        )

    def preview(self) -> str:
        """What the customer's phone shows: the rendered text (older rows have none)."""
        shown = "\n".join(part for part in (self.header, self.body, self.footer) if part)
        return shown or f"[template {self.name}]"


@dataclasses.dataclass(frozen=True)
class Location(Content):
    type: ClassVar[str] = "location"
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Location:
        return cls(
            _float(data, "latitude", -90, 90),
            _float(data, "longitude", -180, 180),
            _str(data, "name", limit=MAX_TITLE, required=False),
            _str(data, "address", limit=MAX_TITLE, required=False),
        )

    def preview(self) -> str:
        return self.name or f"[location {self.latitude:.5f},{self.longitude:.5f}]"


@dataclasses.dataclass(frozen=True)
class Contacts(Content):
    type: ClassVar[str] = "contacts"
    contacts: tuple[Contact, ...]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Contacts:
        return cls(tuple(Contact.parse(c) for c in _list(data, "contacts", low=1, high=20)))

    def preview(self) -> str:
        return "[contacts " + ", ".join(c.name for c in self.contacts) + "]"


@dataclasses.dataclass(frozen=True)
class Reaction(Content):
    type: ClassVar[str] = "reaction"
    message_id: str  # the wamid reacted to
    emoji: str  # "" removes the reaction

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Reaction:
        emoji = _str(data, "emoji", limit=16, required=False)
        return cls(_str(data, "message_id", limit=128), emoji)

    def preview(self) -> str:
        return self.emoji or "[reaction removed]"


@dataclasses.dataclass(frozen=True)
class RichCard(Content):
    type: ClassVar[str] = "rich_card"
    title: str
    description: str = ""
    media: Media | None = None
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any]) -> RichCard:
        media = data.get("media")
        if media is not None and not isinstance(media, dict):
            raise ContentError("media must be an object.")
        title = _str(data, "title", limit=MAX_TITLE)
        return cls(
            title=title,
            description=_str(data, "description", limit=2000, required=False),
            media=Media.parse(media) if media else None,
            suggestions=_suggestions(data, high=4),
        )

    def preview(self) -> str:
        return self.title


@dataclasses.dataclass(frozen=True)
class Carousel(Content):
    type: ClassVar[str] = "carousel"
    cards: tuple[RichCard, ...]
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Carousel:
        cards = tuple(RichCard.parse(c) for c in _list(data, "cards", low=2, high=10))
        return cls(cards, _suggestions(data))

    def preview(self) -> str:
        return "[carousel] " + " · ".join(c.title for c in self.cards)


@dataclasses.dataclass(frozen=True)
class Unsupported(Content):
    """An inbound message the endpoint could not read (undecryptable or unknown)."""

    type: ClassVar[str] = "unsupported"
    reason: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Unsupported:
        return cls(_str(data, "reason", limit=500, required=False))


TYPES: dict[str, Any] = {
    c.type: c
    for c in (
        Text,
        Media,
        Interactive,
        InteractiveReply,
        ActionTap,
        Template,
        Location,
        Contacts,
        Reaction,
        RichCard,
        Carousel,
        Unsupported,
    )
}
# What a business may send, and what only a customer sends.
OUTBOUND_TYPES = frozenset(
    {
        "text",
        "media",
        "interactive",
        "template",
        "location",
        "contacts",
        "reaction",
        "rich_card",
        "carousel",
    }
)
INBOUND_TYPES = frozenset(
    {
        "text",
        "media",
        "interactive_reply",
        "action_tap",
        "location",
        "contacts",
        "reaction",
        "unsupported",
    }
)


def parse_content(data: Any) -> Content:
    """Content from its JSON form (`{"type": ..., fields}`); ContentError if malformed."""
    if not isinstance(data, dict):
        raise ContentError("content must be an object.")
    kind = data.get("type")
    cls = TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ContentError(f"type must be one of {', '.join(sorted(TYPES))}.")
    fields = {k: v for k, v in data.items() if k != "type"}
    parsed: Content = cls.parse(fields)
    return parsed


def check_direction(content: Content, direction: str) -> None:
    allowed = OUTBOUND_TYPES if direction == "outbound" else INBOUND_TYPES
    if content.type not in allowed:
        who = "a business" if direction == "outbound" else "a customer"
        raise ContentError(f"{who} cannot send {content.type} content.")


# -- billing -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BillingClass:
    """What billing is told about a message's content: never the content itself."""

    content: str
    suggestions: str = "none"
    url_preview: bool = False
    template_category: str = ""
    text_bytes: int = 0
    size_bytes: int = 0


def _suggestion_level(suggestions: tuple[Suggestion, ...]) -> str:
    if not suggestions:
        return "none"
    return "basic" if all(s.kind in BASIC_SUGGESTIONS for s in suggestions) else "advanced"


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def from_entry_point(content: Content) -> bool:
    """Whether a customer's message came from an ad or a Page's button (its `referral`):
    a free entry point (parley.messaging.entry_points)."""
    return isinstance(content, Text) and content.referral is not None


def billing_class(content: Content, direction: str) -> BillingClass:
    """The one mapping from a message's content to the class billing rates. Business
    (outbound, A2P) messages are text, rich card or media; customer (inbound, P2A) messages
    and actions are text, media, a location share or a suggested reply / action tap. A
    WhatsApp free-form business message is the `service` category, a template its own."""
    check_direction(content, direction)
    if direction == "outbound":
        category = content.category if isinstance(content, Template) else "service"
        if isinstance(content, Text):
            return BillingClass(BILL_TEXT, _suggestion_level(content.suggestions),
                                content.preview_url, category, _utf8(content.body))  # fmt: skip
        if isinstance(content, Media):
            return BillingClass(BILL_MEDIA, template_category=category,
                                text_bytes=_utf8(content.caption),
                                size_bytes=content.file_length)  # fmt: skip
        if isinstance(content, RichCard | Carousel):
            cards = content.cards if isinstance(content, Carousel) else (content,)
            chips = content.suggestions + tuple(s for c in cards for s in c.suggestions)
            text = sum(_utf8(c.title) + _utf8(c.description) for c in cards)
            size = sum(c.media.file_length for c in cards if c.media is not None)
            return BillingClass(BILL_RICH_CARD, _suggestion_level(chips),
                                template_category=category, text_bytes=text,
                                size_bytes=size)  # fmt: skip
        if isinstance(content, Interactive):
            # Reply buttons are suggested replies; a CTA URL is an open-URL action.
            level = "basic"
            return BillingClass(BILL_TEXT, level, template_category=category,
                                text_bytes=_utf8(content.body))  # fmt: skip
        # Templates, locations, contacts and reactions are rated as text messages.
        return BillingClass(BILL_TEXT, template_category=category,
                            text_bytes=_utf8(content.preview()))  # fmt: skip
    if isinstance(content, Media):
        return BillingClass(BILL_MEDIA, text_bytes=_utf8(content.caption),
                            size_bytes=content.file_length)  # fmt: skip
    if isinstance(content, Location):
        return BillingClass(BILL_LOCATION)
    if isinstance(content, InteractiveReply):
        return BillingClass(BILL_REPLY_TAP, text_bytes=_utf8(content.title))
    if isinstance(content, ActionTap):
        return BillingClass(BILL_ACTION_TAP)
    return BillingClass(BILL_TEXT, text_bytes=_utf8(content.preview()))
