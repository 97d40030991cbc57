"""A business device's message history, as the Signal client sees it, kept in messaging.

The client library records what it sends and receives as `HistoryItem`s; for a business
number the e2ee store adapter hands them here, so the business's plaintext lives in one
place (conversations and messages) and every change goes through an action."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
from typing import Any

from django.db import transaction

from e2ee.client.state import HistoryItem
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.core.ids import new_wamid
from parley.messaging import actions, lifecycle, selectors
from parley.messaging.content import (
    Content,
    ContentError,
    Location,
    Media,
    Referral,
    Text,
    Unsupported,
    parse_content,
)
from parley.messaging.models import Message

_MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "AUDIO": "audio", "DOCUMENT": "document"}


def content_from_item(kind: str, body: str, attachment: dict[str, Any] | None) -> Content:
    """The typed content of a history item (text, media, location, structured, or an
    unreadable message)."""
    attachment = attachment or {}
    try:
        if kind == "text":
            return Text(body=body)
        if kind == "media":
            pointer = attachment.get("pointer")
            media_type = str((pointer or {}).get("media_type", "DOCUMENT"))
            return Media(
                kind=_MEDIA_TYPES.get(media_type, "document"),
                id=str(attachment.get("id", "")),
                mime_type=str(attachment.get("mime_type") or "application/octet-stream"),
                file_name=str(attachment.get("file_name", "")),
                file_length=int(attachment.get("file_length") or 0),
                caption=body,
                pointer=dict(pointer) if isinstance(pointer, dict) else None,
            )
        if kind == "location" and isinstance(attachment.get("location"), dict):
            return Location.parse(dict(attachment["location"]))
        if isinstance(attachment.get("content"), dict):
            return parse_content(dict(attachment["content"]))
    except (ContentError, TypeError, ValueError):
        pass
    return Unsupported(reason="could not be decrypted" if kind == "undecryptable" else kind)


def item_from_message(message: Message) -> HistoryItem:
    content = message.content if isinstance(message.content, dict) else {}
    kind = message.content_type
    attachment: dict[str, Any] | None = None
    if kind == "media":
        attachment = {k: content.get(k) for k in ("id", "file_name", "mime_type", "file_length")}
        if content.get("pointer"):
            attachment["pointer"] = content["pointer"]
    elif kind == "unsupported":
        kind = "undecryptable"
    elif kind != "text":
        attachment = {"content": content}
    envelopes = list(message.envelopes.all())
    outbound = message.direction == Message.Direction.OUTBOUND
    status = message.status
    if not outbound:
        status = "failed" if kind == "undecryptable" else "received"
    return HistoryItem(
        direction="out" if outbound else "in",
        peer=message.conversation.customer,
        peer_device_id=envelopes[0].device_id if envelopes else 1,
        guid=envelopes[0].guid if envelopes else "",
        kind=kind,
        body=message.preview if kind not in ("media", "undecryptable") else _caption(content),
        status=status,
        client_timestamp=message.client_timestamp,
        attachment=attachment,
    )


def _caption(content: dict[str, Any]) -> str:
    return str(content.get("caption", ""))


def list_items(number: PhoneNumber, peer: str | None = None) -> list[HistoryItem]:
    return [item_from_message(m) for m in selectors.list_number_messages(number, peer)]


def record_item(number: PhoneNumber, item: HistoryItem, *, message_id: int | None) -> int:
    """Record what the client did: a message it received (through the inbound action) or
    an envelope it sent (onto `message_id`, or a new message when the client was used
    directly). Returns the message's id."""
    content = content_from_item(item.kind, item.body, item.attachment)
    referral = (item.context or {}).get("referral")
    if isinstance(content, Text) and isinstance(referral, dict):
        # The text stands; a malformed ad reference is dropped.
        with contextlib.suppress(ContentError):
            content = dataclasses.replace(content, referral=Referral.parse(referral))
    if item.direction == "in":
        record = functools.partial(
            actions.do_record_inbound_message,
            number,
            item.peer,
            envelope_guid=item.guid,
            device_id=item.peer_device_id,
            client_timestamp=item.client_timestamp,
            reply_to=selectors.get_replied_wamid(number, str((item.context or {}).get("id") or "")),
        )
        try:
            return record(content).pk
        except InvalidParameter as exc:
            # Kept as unreadable rather than refused: an envelope that can never be recorded
            # would never be acknowledged and would block the queue behind it.
            return record(Unsupported(reason=exc.message[:500])).pk
    if message_id is None:
        message_id = actions.do_send_message(
            number, item.peer, content, deliver=False, client_timestamp=item.client_timestamp
        ).pk
    actions.do_record_sent_envelope(message_id, item.guid, item.peer_device_id)
    return message_id


def record_sent(sent: list[tuple[int, str, int]]) -> int:
    """Envelopes (message id, guid, device id) that carried expected business messages."""
    return actions.do_record_sent_envelopes(sent)


def apply_status(number: PhoneNumber, guid: str, status: str) -> bool:
    """A receipt the client processed ("delivered", "read", "expired")."""
    return actions.do_apply_receipt(number, guid, status)


def apply_statuses(number: PhoneNumber, statuses: list[tuple[str, str]]) -> int:
    """Receipts the client processed in one unit of work (guid, status), in their order."""
    return actions.do_apply_receipts(number, statuses)


# -- quiet imports: restored backups and the fold of the old e2ee history ----------------

_OUT_STATUS = {
    "sent": lifecycle.SENT,
    "delivered": lifecycle.DELIVERED,
    "read": lifecycle.READ,
    "expired": lifecycle.EXPIRED,
    "failed": lifecycle.FAILED,
}


def import_item(
    models: Any,
    *,
    number_id: int,
    business_id: int,
    direction: str,
    peer: str,
    peer_device_id: int,
    guid: str,
    kind: str,
    body: str,
    attachment: dict[str, Any] | None,
    status: str,
    client_timestamp: int,
    at: dt.datetime,
) -> bool:
    """Copy one history item into messaging as it was, publishing nothing (it happened
    before: billing and consumers already saw it or never will). `models` gives the
    Conversation, Message and Envelope classes (a migration passes its historical ones).
    Returns False when its envelope is already known."""
    Conversation, MessageModel, Envelope = models
    if guid and Envelope.objects.filter(guid=guid).exists():
        return False
    conversation, _ = Conversation.objects.get_or_create(
        number_id=number_id,
        customer=peer,
        defaults={"business_id": business_id, "created_at": at, "last_message_at": at},
    )
    inbound = direction == "in"
    if conversation.last_message_at < at:
        conversation.last_message_at = at
    if inbound and (conversation.last_inbound_at is None or conversation.last_inbound_at < at):
        conversation.last_inbound_at = at
        conversation.window_expires_at = at + actions.SERVICE_WINDOW
        conversation.window_closed_at = at + actions.SERVICE_WINDOW  # past: not announced
    conversation.save()
    content = content_from_item(kind, body, attachment)
    status_value = lifecycle.RECEIVED if inbound else _OUT_STATUS.get(status, lifecycle.SENT)
    stamps: dict[str, Any] = {"received_at": at} if inbound else {"accepted_at": at, "sent_at": at}
    if not inbound and status_value != lifecycle.SENT:
        stamps[f"{status_value}_at"] = at
    message = MessageModel.objects.create(
        business_id=business_id,
        conversation=conversation,
        wamid=new_wamid(peer),
        direction="inbound" if inbound else "outbound",
        content_type=content.type,
        content=content.to_dict(),
        status=status_value,
        client_timestamp=client_timestamp,
        created_at=at,
        **stamps,
    )
    if guid:
        Envelope.objects.create(guid=guid, message=message, device_id=peer_device_id)
    return True


def import_items(number: PhoneNumber, items: list[HistoryItem]) -> int:
    """A restored backup's history, imported quietly; returns how many were new."""
    from parley.messaging.models import Conversation, Envelope

    count = 0
    now = clock.now()
    with transaction.atomic():
        for item in items:
            count += import_item(
                (Conversation, Message, Envelope),
                number_id=number.pk,
                business_id=number.business_id,
                direction=item.direction,
                peer=item.peer,
                peer_device_id=item.peer_device_id,
                guid=item.guid,
                kind=item.kind,
                body=item.body,
                attachment=item.attachment,
                status=item.status,
                client_timestamp=item.client_timestamp,
                at=now,
            )
    return count


def fold_e2ee_history(e2ee_message: Any, models: Any) -> int:
    """Move every business device's history from the e2ee app's table into messaging (copy,
    then delete); the handsets' own history stays where it is (handsets 0004 moves it into
    that app; e2ee 0004 then drops the table). Returns rows moved."""
    moved = 0
    rows = e2ee_message.objects.filter(
        device__owner="business", device__phone_number__isnull=False
    ).select_related("device", "device__phone_number")
    for row in rows.order_by("created_at", "id"):
        import_item(
            models,
            number_id=row.device.phone_number_id,
            business_id=row.device.phone_number.business_id,
            direction=row.direction,
            peer=row.peer,
            peer_device_id=row.peer_device_id,
            guid=row.guid,
            kind=row.kind,
            body=row.body,
            attachment=row.attachment,
            status=row.status,
            client_timestamp=row.client_timestamp,
            at=row.created_at,
        )
        moved += 1
    e2ee_message.objects.filter(
        device__owner="business", device__phone_number__isnull=False
    ).delete()
    return moved
