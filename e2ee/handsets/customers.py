"""Simulated customers a business's developers drive: fleet handsets that belong to one
business (the simulator API `/parley/v1/simulator/customers`, `manage.py customer` and the
console's Customers page all call these).

Everything a customer does goes through the running fleet (`FleetControl`): the phone
encrypts and sends through the relay exactly as it would for a real user, and the business
learns of it only from its endpoint's decryption. Nothing here writes the business's rows.

Selectors (`list_…`, `get_…`) read; actions (`do_…`) change the fleet's state through its
control API, which writes its own rows. A customer is seen only by its own business:
another business's customer is "not found", exactly as an unknown number."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from e2ee.handsets import faults
from e2ee.handsets.control import FleetControl, FleetRefused, FleetUnavailable
from e2ee.handsets.models import FleetHandset
from e2ee.handsets.selectors import list_typing_peers
from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import Business, PhoneNumber
from parley.core.errors import Conflict, InvalidParameter, NotFound, ParleyError
from parley.messaging.content import ContentError, Referral
from parley.messaging.models import Envelope, Message

LANGUAGE_PATTERN = r"^[a-z]{2,3}(_[A-Z]{2})?$"
MAX_READ_DELAY_SECONDS = 30 * 24 * 3600.0
MAX_FILE_BYTES = 3 * 1024 * 1024  # its base64 fits a request body (5 MB)
MAX_TEXT = 4096
MAX_TITLE = 1024
# What a customer can send (the `type` of `do_send_as_customer`'s message).
MESSAGE_TYPES = (
    "text",
    "button_reply",
    "list_reply",
    "suggested_reply",
    "action_tap",
    "location",
    "contacts",
    "reaction",
    "file",
    "stop",
    "start",
)
FLEET_TIMEOUT = 60.0


class FleetDown(ParleyError):
    """The handset fleet does not answer (or cannot reach the relay): Meta's "service
    temporarily unavailable"."""

    http_status = 503
    code = 2


@dataclass(frozen=True)
class Customer:
    """A simulated customer as its business sees it."""

    id: int
    phone_number: str
    wa_id: str
    country: str
    language: str
    online: bool
    read_delay_seconds: float | None
    created_at: str
    blocks_businesses: bool = False
    # The business numbers whose typing indicator the phone shows now.
    typing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "phone_number": self.phone_number,
            "wa_id": self.wa_id,
            "country": self.country,
            "language": self.language,
            "online": self.online,
            "blocks_businesses": self.blocks_businesses,
            "read_delay_seconds": self.read_delay_seconds,
            "created_at": self.created_at,
            "typing": list(self.typing),
        }


def _fleet(fleet: FleetControl | None) -> FleetControl:
    return fleet or FleetControl(timeout=FLEET_TIMEOUT)


def _country(e164: str) -> str:
    try:
        return parse_e164(e164)[1]
    except InvalidParameter:
        return ""


# -- selectors ---------------------------------------------------------------------------


def customers_of(rows: list[FleetHandset]) -> list[Customer]:
    typing = list_typing_peers(r.pk for r in rows)
    return [customer_of(r, typing=typing.get(r.pk, ())) for r in rows]


def customer_of(row: FleetHandset, *, typing: Sequence[str] | None = None) -> Customer:
    """The customer as its business sees it; `typing`: the peers shown typing, when the
    caller read them for many rows at once."""
    if typing is None:
        typing = list_typing_peers([row.pk]).get(row.pk, ())
    e164 = row.device.e164
    return Customer(
        id=row.pk,
        phone_number=e164,
        wa_id=e164.lstrip("+"),
        country=_country(e164),
        language=row.language,
        online=row.online,
        blocks_businesses=row.blocks_businesses,
        read_delay_seconds=row.read_delay_seconds,
        created_at=row.created_at.isoformat(),
        typing=tuple(typing),
    )


def list_customers(business: Business) -> QuerySet[FleetHandset]:
    """The business's simulated customers, oldest first."""
    return (
        FleetHandset.objects.select_related("device")
        .filter(business=business, device__device_id=1)
        .order_by("pk")
    )


def get_customer(business: Business, phone_number: str) -> FleetHandset:
    """The business's customer with this number; NotFound for an unknown number, a malformed
    one and another business's customer alike."""
    missing = NotFound(f"{phone_number[:40]} is not a simulated customer of this business.")
    try:
        e164 = parse_e164(phone_number)[0]
    except InvalidParameter:
        raise missing from None
    row = list_customers(business).filter(device__e164=e164).first()
    if row is None:
        raise missing
    return row


def get_customer_inbox(
    business: Business,
    phone_number: str,
    *,
    peer: str | None = None,
    fleet: FleetControl | None = None,
) -> list[dict[str, Any]]:
    """What the customer's phone shows (decrypted on the phone), both directions, oldest
    first; `peer`: only the chat with that business number."""
    row = get_customer(business, phone_number)
    if peer:
        peer = _business_number(business, peer, field="peer").e164
    items = _call(lambda f: f.history(row.device.e164, peer), fleet)
    mine = set(PhoneNumber.objects.filter(business=business).values_list("e164", flat=True))
    # Only the chats with this business's numbers: the phone may talk to others.
    return [dict(i) for i in items if i.get("peer") in mine]


# -- actions -----------------------------------------------------------------------------


def _call(operation: Any, fleet: FleetControl | None) -> Any:
    """Run one fleet operation, turning its failures into errors the caller can act on."""
    try:
        return operation(_fleet(fleet))
    except FleetUnavailable:
        raise FleetDown(
            "The handset fleet is not running, so simulated customers cannot act: start it "
            "with `manage.py handset_fleet` (`make run` starts it)."
        ) from None
    except FleetRefused as exc:
        if exc.status == 400:
            raise InvalidParameter(f"(#100) Invalid parameter: {exc.message}") from None
        if exc.status == 404:
            raise NotFound(exc.message) from None
        if exc.status == 409:
            raise Conflict(exc.message) from None
        if exc.status == 401:
            raise FleetDown("The handset fleet belongs to another installation.") from None
        raise FleetDown(f"The handset fleet could not do it: {exc.message}") from None


def _language(value: Any) -> str:
    if value is None or value == "":
        return "en_US"
    if not isinstance(value, str) or not re.fullmatch(LANGUAGE_PATTERN, value, flags=re.ASCII):
        raise InvalidParameter(
            "(#100) Invalid parameter: language must be a code such as en_US.", field="language"
        )
    return value


def _delay(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(
            "(#100) Invalid parameter: read_delay_seconds must be a number or null.",
            field="read_delay_seconds",
        )
    if not 0 <= value <= MAX_READ_DELAY_SECONDS:
        raise InvalidParameter(
            "(#100) Invalid parameter: read_delay_seconds must be between 0 and 2592000 (30 days).",
            field="read_delay_seconds",
        )
    return float(value)


def _online(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameter(
            "(#100) Invalid parameter: online must be true or false.", field="online"
        )
    return value


def do_create_customer(
    business: Business,
    phone_number: str,
    *,
    language: Any = None,
    online: Any = True,
    read_delay_seconds: Any = None,
    fleet: FleetControl | None = None,
) -> FleetHandset:
    """A new simulated customer of `business`: the fleet verifies the number by SMS,
    registers the phone with the relay and publishes its keys."""
    try:
        e164, _country_code = parse_e164(str(phone_number or ""))
    except InvalidParameter as exc:
        raise InvalidParameter(
            f"(#100) Invalid parameter: {exc.message}", field="phone_number"
        ) from None
    chosen_language = _language(language)
    is_online = _online(online)
    delay = _delay(read_delay_seconds)
    fault = faults.BY_NUMBER.get(e164)
    if fault is not None:
        raise InvalidParameter(
            f"(#100) Invalid parameter: {e164} is a fault number ({fault.title}) with built-in "
            "behaviour that any business may message: it cannot be a simulated customer.",
            field="phone_number",
        )
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise InvalidParameter(
            f"(#100) Invalid parameter: {e164} is a business number, not a customer's phone.",
            field="phone_number",
        )
    if FleetHandset.objects.filter(device__e164=e164).exists():
        raise Conflict(f"{e164} is already a simulated phone.")
    _call(
        lambda f: f.create(
            e164,
            online=is_online,
            read_delay_seconds=delay,
            business_id=business.pk,
            language=chosen_language,
        ),
        fleet,
    )
    return get_customer(business, e164)


def do_update_customer(
    business: Business,
    phone_number: str,
    *,
    online: Any = None,
    read_delay_seconds: Any = ...,
    blocks_businesses: Any = None,
    fleet: FleetControl | None = None,
) -> FleetHandset:
    """Take the customer's phone on- or offline (online waits until its backlog is in), set
    how long its user takes to read a message (None: only when told to `read`), and block or
    unblock businesses (the relay then refuses their messages: 131026; the numbers that
    wrote to the customer lately count the block against their quality rating)."""
    row = get_customer(business, phone_number)
    body: dict[str, Any] = {}
    if online is not None:
        body["online"] = _online(online)
    if blocks_businesses is not None:
        if not isinstance(blocks_businesses, bool):
            raise InvalidParameter(
                "(#100) Invalid parameter: blocks_businesses must be true or false.",
                field="blocks_businesses",
            )
        body["blocks_businesses"] = blocks_businesses
    if read_delay_seconds is not ...:
        body["read_delay_seconds"] = _delay(read_delay_seconds)
    if body:
        _call(lambda f: f.call("PATCH", f"/v1/handsets/{row.device.e164}", body), fleet)
    return get_customer(business, phone_number)


def do_read_as_customer(
    business: Business, phone_number: str, *, fleet: FleetControl | None = None
) -> list[str]:
    """The customer opens the chats: a read receipt for everything that arrived and was not
    read yet (the business's messages move to `read`). Returns the envelopes read."""
    row = get_customer(business, phone_number)
    return list(_call(lambda f: f.read(row.device.e164), fleet))


def do_send_as_customer(
    business: Business,
    phone_number: str,
    message: dict[str, Any],
    *,
    fleet: FleetControl | None = None,
) -> list[str]:
    """The customer's phone sends `message` (`{to, type, <type>: {...}}`, see
    MESSAGE_TYPES) to one of the business's numbers. Returns the relay envelopes' guids."""
    row = get_customer(business, phone_number)
    customer = row.device.e164
    if not isinstance(message, dict):
        raise InvalidParameter("(#100) Invalid parameter: the message must be an object.")
    to = _business_number(business, message.get("to"), field="to").e164
    body = _fleet_body(business, customer, to, message)
    return list(_call(lambda f: f.send(customer, body), fleet))


# -- what a customer sends, as the fleet takes it ---------------------------------------


def _invalid(text: str, field: str) -> InvalidParameter:
    return InvalidParameter(f"(#100) Invalid parameter: {text}", field=field)


def _business_number(business: Business, raw: Any, *, field: str) -> PhoneNumber:
    if not isinstance(raw, str) or not raw.strip():
        raise _invalid(f"{field} must be one of the business's phone numbers.", field)
    try:
        e164 = parse_e164(raw)[0]
    except InvalidParameter:
        raise _invalid(f"{field}: {raw[:40]!r} is not a phone number.", field) from None
    number = PhoneNumber.objects.filter(business=business, e164=e164).first()
    if number is None:
        raise _invalid(f"{field}: {e164} is not a phone number of this business.", field)
    return number


def _object(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    if not isinstance(value, dict):
        raise _invalid(f"a {key} message needs a `{key}` object.", key)
    return value


def _string(
    data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = True
) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(f"{where}.{key} must be a string.", f"{where}.{key}")
    if required and not value.strip():
        raise _invalid(f"{where}.{key} is required.", f"{where}.{key}")
    if len(value) > limit:
        raise _invalid(f"{where}.{key} is longer than {limit} characters.", f"{where}.{key}")
    return value


def _number(data: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{where}.{key} must be a number.", f"{where}.{key}")
    if not low <= value <= high:
        raise _invalid(f"{where}.{key} must be between {low:g} and {high:g}.", f"{where}.{key}")
    return float(value)


def _chat_message(business: Business, to: str, customer: str, wamid: str, field: str) -> str:
    """The envelope guid (what the phone knows a message by) of a message of the chat
    between the business number `to` and `customer`, named by its wamid."""
    message = Message.objects.filter(
        business=business,
        conversation__number__e164=to,
        conversation__customer=customer,
        wamid=wamid,
    ).first()
    if message is None:
        raise _invalid(f"{field}: {wamid[:80]!r} is not a message of this chat.", field)
    guid = Envelope.objects.filter(message=message).values_list("guid", flat=True).first()
    return guid or wamid


def _fleet_body(
    business: Business, customer: str, to: str, message: dict[str, Any]
) -> dict[str, Any]:
    kind = message.get("type", "text")
    if kind not in MESSAGE_TYPES:
        raise _invalid(f"type must be one of {', '.join(MESSAGE_TYPES)}.", "type")
    if kind in ("stop", "start"):
        return {"to": to, "type": "text", "text": kind.upper()}
    if kind == "text":
        text = _string(_object(message, "text"), "body", "text", limit=MAX_TEXT)
        body: dict[str, Any] = {"to": to, "type": "text", "text": text}
        context = message.get("context")
        if context is not None:
            if not isinstance(context, dict):
                raise _invalid("context must be an object with message_id.", "context")
            wamid = _string(context, "message_id", "context", limit=128)
            body["reply_to"] = _chat_message(business, to, customer, wamid, "context.message_id")
        referral = message.get("referral")
        if referral is not None:
            # The ad the customer tapped to start the chat (a click-to-WhatsApp ad).
            try:
                body["referral"] = dataclasses.asdict(Referral.parse(referral))
            except ContentError as exc:
                raise _invalid(str(exc), "referral") from None
        return body
    if kind in ("button_reply", "list_reply"):
        tap = _object(message, kind)
        return {"to": to, "type": "interactive_reply",
                "id": _string(tap, "id", kind, limit=256),
                "title": _string(tap, "title", kind, limit=MAX_TITLE)}  # fmt: skip
    if kind == "suggested_reply":
        tap = _object(message, kind)
        return {"to": to, "type": "interactive_reply",
                "id": _string(tap, "postback", kind, limit=2048),
                "title": _string(tap, "text", kind, limit=MAX_TITLE)}  # fmt: skip
    if kind == "action_tap":
        tap = _object(message, kind)
        return {"to": to, "type": "action_tap",
                "postback": _string(tap, "postback", kind, limit=2048),
                "text": _string(tap, "text", kind, limit=MAX_TITLE, required=False)}  # fmt: skip
    if kind == "location":
        pin = _object(message, kind)
        return {
            "to": to,
            "type": "location",
            "latitude": _number(pin, "latitude", kind, -90, 90),
            "longitude": _number(pin, "longitude", kind, -180, 180),
            "name": _string(pin, "name", kind, limit=MAX_TITLE, required=False),
            "address": _string(pin, "address", kind, limit=MAX_TITLE, required=False),
        }
    if kind == "contacts":
        raw = message.get("contacts")
        if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
            raise _invalid("contacts must be a list of 1 to 20 contacts.", "contacts")
        contacts = []
        for item in raw:
            if not isinstance(item, dict):
                raise _invalid("each contact must be an object with name and phones.", "contacts")
            phones = item.get("phones", [])
            if not isinstance(phones, list) or not all(
                isinstance(p, str) and 0 < len(p) <= 32 for p in phones
            ):
                raise _invalid("contacts.phones must be a list of phone numbers.", "contacts")
            contacts.append(
                {"name": _string(item, "name", "contacts", limit=MAX_TITLE), "phones": phones}
            )
        return {"to": to, "type": "contacts", "contacts": contacts}
    if kind == "reaction":
        reaction = _object(message, kind)
        wamid = _string(reaction, "message_id", kind, limit=128)
        _chat_message(business, to, customer, wamid, "reaction.message_id")
        emoji = _string(reaction, "emoji", kind, limit=16, required=False)
        # The business's side names the message by its wamid.
        return {"to": to, "type": "reaction", "message_id": wamid, "emoji": emoji}
    # file
    file = _object(message, "file")
    raw_data = _string(file, "data", "file", limit=MAX_FILE_BYTES * 2)
    try:
        data = base64.b64decode(raw_data, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("file.data must be base64.", "file.data") from None
    if not data:
        raise _invalid("file.data is empty.", "file.data")
    if len(data) > MAX_FILE_BYTES:
        raise _invalid(f"the file is larger than {MAX_FILE_BYTES} bytes.", "file.data")
    mime = _string(file, "mime_type", "file", limit=255, required=False)
    if mime and not re.fullmatch(r"[a-z]+/[A-Za-z0-9.+_-]+", mime, flags=re.ASCII):
        raise _invalid("file.mime_type must look like image/png.", "file.mime_type")
    return {
        "to": to,
        "type": "file",
        "data": base64.b64encode(data).decode(),
        "file_name": _string(file, "file_name", "file", limit=255, required=False) or "file",
        "mime_type": mime or "application/octet-stream",
        "text": _string(file, "caption", "file", limit=MAX_TEXT, required=False),
    }
