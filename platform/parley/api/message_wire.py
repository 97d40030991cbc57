"""The Cloud API's message requests (`POST /{version}/{phone_number_id}/messages`) read into
Parley's typed content. Pure: no database, no Django.

A body is either a send (`to`, `type` and the object of that type, an optional reply
`context`) or a mark-as-read (`"status": "read"`, `message_id`, an optional typing
indicator). What is malformed raises `MessagingError` with the code the real API answers:
100 for the request's own structure, 131008 for a missing part of the message, 131009 for a
value the message cannot carry, 131051 for a type Parley does not carry. Media messages
(image, audio, video, document, sticker) name an uploaded media `id` or a `link`; the file
is fetched and checked when the send is accepted (parley.media)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from parley.core.errors import MessagingError
from parley.media.rules import MediaRef
from parley.messaging.content import (
    MAX_CAPTION,
    Button,
    Contact,
    Contacts,
    Content,
    ContentError,
    Interactive,
    Location,
    Reaction,
    Text,
)

SEND_TYPES = (
    "text", "template", "interactive", "location", "contacts", "reaction",
    "image", "audio", "video", "document", "sticker",
)  # fmt: skip
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
_SEND_KEYS = frozenset({"messaging_product", "recipient_type", "to", "recipient", "type",
                        "context", "biz_opaque_callback_data", *SEND_TYPES})  # fmt: skip
_READ_KEYS = frozenset({"messaging_product", "status", "message_id", "typing_indicator"})


_USER_ID = re.compile(r"[A-Z]{2}\.[0-9]{1,30}")


@dataclasses.dataclass(frozen=True)
class SendRequest:
    to: str
    type: str
    # None for a template (resolved against the business's templates) and for media (the
    # uploaded file or the link, fetched and encrypted when the send is accepted).
    content: Content | None
    template: dict[str, Any] | None = None
    media: MediaRef | None = None
    reply_to: str = ""  # the wamid in `context.message_id`
    recipient: str = ""  # a business-scoped user id, when `to` is not given


@dataclasses.dataclass(frozen=True)
class ReadRequest:
    message_id: str
    typing: bool = False


def invalid(details: str) -> MessagingError:
    return MessagingError(131009, "Parameter value is not valid", details)


def missing(details: str) -> MessagingError:
    return MessagingError(131008, "Required parameter is missing", details)


def structure(message: str) -> MessagingError:
    error = MessagingError(100, "Invalid parameter", message)
    error.message = f"(#100) {message}"
    return error


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        raise missing(f"Parameter '{key}' is required for messages of type '{key}'.")
    if not isinstance(value, dict):
        raise structure(f"Param {key} must be a JSON object.")
    return value


def _text(data: dict[str, Any], key: str, where: str, *, limit: int, required: bool) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise missing(f"Parameter '{where}.{key}' is required.")
        return ""
    if not isinstance(value, str):
        raise structure(f"Param {where}['{key}'] must be a string.")
    if len(value) > limit:
        raise invalid(f"Param {where}['{key}'] must be at most {limit} characters long.")
    return value


def _number(value: Any, where: str) -> float:
    """Latitude and longitude come as numbers or as strings (Meta's own schema says string)."""
    if isinstance(value, bool):
        raise structure(f"Param {where} must be a number.")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise structure(f"Param {where} must be a number.")


def parse_message_request(data: Any) -> SendRequest | ReadRequest:
    if not isinstance(data, dict):
        raise structure("The request body must be a JSON object.")
    product = data.get("messaging_product")
    if product is None:
        raise structure("The parameter messaging_product is required.")
    if not isinstance(product, str) or product.lower() != "whatsapp":
        raise structure(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    if "status" in data:
        return _read_request(data)
    return _send_request(data)


def _unexpected(data: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in data:
        if key not in allowed:
            raise structure(f'Unexpected key "{str(key)[:60]}" on param "<root>".')


def _read_request(data: dict[str, Any]) -> ReadRequest:
    _unexpected(data, _READ_KEYS)
    if data["status"] != "read":
        raise structure(f'Param status must be one of {{READ}} - got "{str(data["status"])[:40]}".')
    message_id = data.get("message_id")
    if not message_id:
        raise structure("The parameter message_id is required.")
    if not isinstance(message_id, str) or len(message_id) > 128:
        raise structure("Param message_id must be a message id (a string).")
    typing = data.get("typing_indicator")
    if typing is not None and (not isinstance(typing, dict) or typing.get("type") != "text"):
        raise structure('Param typing_indicator must be {"type": "text"}.')
    return ReadRequest(message_id, typing=typing is not None)


def _send_request(data: dict[str, Any]) -> SendRequest:
    _unexpected(data, _SEND_KEYS)
    recipient_type = data.get("recipient_type", "individual")
    if recipient_type != "individual":
        got = str(recipient_type)[:40]
        raise structure(f'Param recipient_type must be one of {{INDIVIDUAL}} - got "{got}".')
    to, recipient = data.get("to"), data.get("recipient")
    if recipient not in (None, ""):
        # The business-scoped user id, instead of the phone number.
        if to not in (None, ""):
            raise structure("Give the parameter to or recipient, not both.")
        if not isinstance(recipient, str) or not _USER_ID.fullmatch(recipient):
            raise structure("Param recipient must be a business-scoped user id (e.g. US.1349…).")
        to = ""
    elif to is None or to == "":
        raise structure("The parameter to is required.")
    elif not isinstance(to, str) or len(to) > 40:
        raise structure("Param to must be a phone number (a string).")
    else:
        recipient = ""
    kind = data.get("type", "text")
    if not isinstance(kind, str) or kind not in SEND_TYPES:
        names = ", ".join(t.upper() for t in SEND_TYPES)
        raise structure(f'Param type must be one of {{{names}}} - got "{str(kind)[:40]}".')
    reply_to = _context(data.get("context"))
    if kind in MEDIA_TYPES:
        return SendRequest(to, kind, None, media=_read_media(kind, _object(data, kind)),
                           reply_to=reply_to, recipient=recipient)  # fmt: skip
    if kind == "template":
        template = _object(data, "template")
        for key in ("name", "language"):
            if not template.get(key):
                raise missing(f"Parameter 'template.{key}' is required.")
        components = template.get("components", [])
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise structure("Param template['components'] must be a list of objects.")
        return SendRequest(to, kind, None, template=template, reply_to=reply_to,
                           recipient=recipient)  # fmt: skip
    try:
        if kind == "contacts":
            content = _contacts_entry(data)
        else:
            content = _CONTENT[kind](_object(data, kind))
    except ContentError as exc:
        raise invalid(str(exc)) from exc
    return SendRequest(to, kind, content, reply_to=reply_to, recipient=recipient)


def _context(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise structure("Param context must be a JSON object.")
    message_id = value.get("message_id", "")
    if not isinstance(message_id, str) or len(message_id) > 128:
        raise structure("Param context['message_id'] must be a message id (a string).")
    return message_id


# -- one reader per type -------------------------------------------------------------------


def _read_text(obj: dict[str, Any]) -> Content:
    preview = obj.get("preview_url", False)
    if not isinstance(preview, bool):
        raise structure("Param text['preview_url'] must be a boolean.")
    body = _text(obj, "body", "text", limit=4096, required=True)
    return Text(body=body, preview_url=preview)


def _read_location(obj: dict[str, Any]) -> Content:
    for key in ("latitude", "longitude"):
        if obj.get(key) is None:
            raise missing(f"Parameter 'location.{key}' is required.")
    latitude = _number(obj["latitude"], "location['latitude']")
    longitude = _number(obj["longitude"], "location['longitude']")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise invalid("Param location latitude must be within ±90 and longitude within ±180.")
    return Location(
        latitude,
        longitude,
        _text(obj, "name", "location", limit=200, required=False),
        _text(obj, "address", "location", limit=200, required=False),
    )


_MEDIA_KEYS = frozenset({"id", "link", "caption", "filename", "provider"})


def _read_media(kind: str, obj: dict[str, Any]) -> MediaRef:
    """`{"id"}` (an uploaded media object) or `{"link"}` (http or https), a `caption` except
    for audio and stickers, a `filename` for documents."""
    for key in obj:
        if key not in _MEDIA_KEYS:
            raise structure(f'Unexpected key "{str(key)[:60]}" on param "{kind}".')
    media_id = _text(obj, "id", kind, limit=64, required=False)
    link = _text(obj, "link", kind, limit=2000, required=False)
    if bool(media_id) == bool(link):
        raise missing(f"Parameter '{kind}' must have either 'id' or 'link' (not both).")
    if media_id and not media_id.isascii():
        raise invalid(f"Param {kind}['id'] is not a valid whatsapp business account media "
                      "attachment ID")  # fmt: skip
    if link and not link.lower().startswith(("http://", "https://")):
        raise invalid(f"Param {kind}['link'] must be an http or https URL.")
    caption = _text(obj, "caption", kind, limit=MAX_CAPTION, required=False)
    if caption and kind in ("audio", "sticker"):
        raise invalid(f"Param {kind}['caption'] is not allowed: {kind} messages have none.")
    filename = _text(obj, "filename", kind, limit=240, required=False)
    if filename and kind != "document":
        raise invalid(f"Param {kind}['filename'] is only for documents.")
    return MediaRef(kind, media_id=media_id, link=link, caption=caption, filename=filename)


def _read_reaction(obj: dict[str, Any]) -> Content:
    message_id = _text(obj, "message_id", "reaction", limit=128, required=True)
    emoji = obj.get("emoji", "")
    if emoji is None:
        emoji = ""
    if not isinstance(emoji, str) or len(emoji) > 16:
        raise invalid("Param reaction['emoji'] must be a single emoji, or empty to remove one.")
    return Reaction(message_id, emoji)


def _read_contacts(value: Any) -> Content:
    if not isinstance(value, list) or not value:
        raise invalid("Param contacts must be a non-empty list of contact objects.")
    if len(value) > 20:
        raise invalid("Param contacts must have at most 20 contacts.")
    contacts = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise structure(f"Param contacts[{i}] must be a JSON object.")
        name = item.get("name")
        if not isinstance(name, dict):
            raise missing(f"Parameter 'contacts[{i}].name' is required.")
        formatted = _text(name, "formatted_name", f"contacts[{i}].name", limit=200, required=True)
        phones = item.get("phones", [])
        if not isinstance(phones, list) or not all(isinstance(p, dict) for p in phones):
            raise structure(f"Param contacts[{i}]['phones'] must be a list of objects.")
        numbers = tuple(
            _text(p, "phone", f"contacts[{i}].phones", limit=40, required=True) for p in phones
        )
        contacts.append(Contact(name=formatted, phones=numbers))
    return Contacts(tuple(contacts))


def _interactive_text(obj: dict[str, Any], key: str, *, limit: int, required: bool) -> str:
    part = obj.get(key)
    if part is None:
        if required:
            raise missing(f"Parameter 'interactive.{key}' is required.")
        return ""
    if not isinstance(part, dict):
        raise structure(f"Param interactive['{key}'] must be a JSON object.")
    if key == "header" and part.get("type", "text") != "text":
        raise MessagingError(
            131051,
            "Unsupported message type",
            "Interactive headers of media are not carried by this Parley installation yet: "
            "use a text header.",
        )
    return _text(part, "text", f"interactive.{key}", limit=limit, required=required)


def _read_interactive(obj: dict[str, Any]) -> Content:
    kind = obj.get("type")
    action = obj.get("action")
    if kind is None:
        raise missing("Parameter 'interactive.type' is required.")
    if not isinstance(action, dict):
        raise missing("Parameter 'interactive.action' is required.")
    header = _interactive_text(obj, "header", limit=60, required=False)
    body = _interactive_text(obj, "body", limit=1024, required=True)
    footer = _interactive_text(obj, "footer", limit=60, required=False)
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise invalid("Param interactive.action['buttons'] must hold 1 to 3 buttons.")
        parsed = []
        for i, button in enumerate(buttons):
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(reply, dict) or button.get("type", "reply") != "reply":
                raise invalid(f"Param interactive.action.buttons[{i}] must be a reply button.")
            parsed.append(Button.parse(reply))
        ids = [b.id for b in parsed]
        if len(set(ids)) != len(ids):
            raise invalid("Buttons' ids must be unique.")
        return Interactive("button", body, tuple(parsed), header=header, footer=footer)
    if kind == "list":
        _text(action, "button", "interactive.action", limit=20, required=True)
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            raise invalid("Param interactive.action['sections'] must hold 1 to 10 sections.")
        rows = []
        for i, section in enumerate(sections):
            section_rows = section.get("rows") if isinstance(section, dict) else None
            if not isinstance(section_rows, list) or not section_rows:
                raise invalid(f"Param interactive.action.sections[{i}] must have rows.")
            for row in section_rows:
                if not isinstance(row, dict):
                    raise structure("Each row must be a JSON object.")
                row_id = _text(row, "id", "row", limit=200, required=True)
                rows.append(Button(row_id, _text(row, "title", "row", limit=24, required=True)))
        if len(rows) > 10:
            raise invalid("A list message holds at most 10 rows in all its sections.")
        return Interactive("list", body, tuple(rows), header=header, footer=footer)
    if kind == "cta_url":
        if action.get("name") != "cta_url" or not isinstance(action.get("parameters"), dict):
            raise invalid('Param interactive.action must be {"name": "cta_url", "parameters"}.')
        params = action["parameters"]
        url = _text(params, "url", "interactive.action.parameters", limit=2000, required=True)
        if not url.startswith(("http://", "https://")):
            raise invalid("Param interactive.action.parameters['url'] must be an http(s) URL.")
        display = _text(params, "display_text", "interactive.action.parameters", limit=20,
                        required=True)  # fmt: skip
        return Interactive("cta_url", body, url=url, display_text=display, header=header,
                           footer=footer)  # fmt: skip
    if isinstance(kind, str) and kind in (
        "product", "product_list", "catalog_message", "flow", "call_permission_request",
        "location_request_message", "address_message",
    ):  # fmt: skip
        raise MessagingError(
            131051,
            "Unsupported message type",
            f"Interactive messages of type {kind} are not carried by this Parley installation: "
            "send button, list or cta_url.",
        )
    raise structure(
        "Param interactive['type'] must be one of {BUTTON, LIST, CTA_URL} - got \""
        f'{str(kind)[:40]}".'
    )


_CONTENT: dict[str, Any] = {
    "text": _read_text,
    "location": _read_location,
    "reaction": _read_reaction,
    "interactive": _read_interactive,
}


def _contacts_entry(data: dict[str, Any]) -> Content:
    value = data.get("contacts")
    if value is None:
        raise missing("Parameter 'contacts' is required for messages of type 'contacts'.")
    return _read_contacts(value)
