"""Writes of the fleet's own state (each in one transaction): which phones the fleet runs
and how they behave, and each phone's own message history (written by the e2ee store
through the port in e2ee.handsets.history). Keys and sessions are the e2ee store's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from e2ee.client.state import STATUS_RANK, HistoryItem
from e2ee.handsets.models import FleetHandset, HandsetMessage, HandsetTyping, PendingRead
from e2ee.models import LocalDevice
from parley.core import clock
from parley.core.bulk import insert_instances
from parley.core.errors import InvalidParameter

MAX_READ_DELAY_SECONDS = 30 * 24 * 3600.0
# How long a phone shows "typing…" after an indicator (WhatsApp's 25 s).
TYPING_SHOWN = dt.timedelta(seconds=25)


def _delay(value: float | None) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= MAX_READ_DELAY_SECONDS:
        raise InvalidParameter("The read delay must be between 0 seconds and 30 days.")
    return float(value)


def do_enlist_handset(
    device: LocalDevice,
    *,
    online: bool = True,
    read_delay_seconds: float | None = None,
    business_id: int | None = None,
    language: str | None = None,
) -> FleetHandset:
    """Put a handset device under the fleet (or update how it behaves if it already is).
    `business_id`: the business whose simulated customer it is (None: nobody's, or keep);
    `language`: its phone's language (None: en_US, or keep)."""
    if device.owner != LocalDevice.Owner.HANDSET:
        raise InvalidParameter(f"{device.e164} is a business number, not a handset.")
    now = clock.now()
    with transaction.atomic():
        handset, created = FleetHandset.objects.select_for_update().get_or_create(
            device=device,
            defaults={
                "online": online,
                "read_delay_seconds": _delay(read_delay_seconds),
                "created_at": now,
                "updated_at": now,
                "business_id": business_id,
                "language": language or "en_US",
            },
        )
        if not created:
            handset.online = online
            handset.read_delay_seconds = _delay(read_delay_seconds)
            handset.updated_at = now
            fields = ["online", "read_delay_seconds", "updated_at"]
            if business_id is not None:
                handset.business_id = business_id
                fields.append("business")
            if language:
                handset.language = language
                fields.append("language")
            handset.save(update_fields=fields)
    return handset


def do_set_handset_online(handset: FleetHandset, online: bool) -> FleetHandset:
    with transaction.atomic():
        FleetHandset.objects.filter(pk=handset.pk).update(online=online, updated_at=clock.now())
    handset.online = online
    return handset


def do_set_read_delay(handset: FleetHandset, seconds: float | None) -> FleetHandset:
    delay = _delay(seconds)
    with transaction.atomic():
        FleetHandset.objects.filter(pk=handset.pk).update(
            read_delay_seconds=delay, updated_at=clock.now()
        )
    handset.read_delay_seconds = delay
    return handset


def do_mark_inbox_shown(handset: FleetHandset, count: int) -> None:
    with transaction.atomic():
        FleetHandset.objects.filter(pk=handset.pk).update(inbox_shown=count)
    handset.inbox_shown = count


def do_mark_chat_read(handset: FleetHandset, count: int) -> None:
    with transaction.atomic():
        FleetHandset.objects.filter(pk=handset.pk).update(read_count=count)
    handset.read_count = count


def do_schedule_read(handset_pk: int, guid: str, delay_seconds: float) -> dt.datetime:
    """The user will read this message `delay_seconds` of simulated time from now."""
    due = clock.now() + dt.timedelta(seconds=delay_seconds)
    with transaction.atomic():
        PendingRead.objects.get_or_create(
            handset_id=handset_pk, guid=guid, defaults={"due_at": due}
        )
    return due


def do_forget_reads(handset_pk: int, guids: Iterable[str]) -> None:
    """The user read these messages now: no receipt is due for them later."""
    with transaction.atomic():
        PendingRead.objects.filter(handset_id=handset_pk, guid__in=list(guids)).delete()


def do_complete_reads(ids: Iterable[int]) -> None:
    """Read receipts sent (or no longer sendable): forget them."""
    with transaction.atomic():
        PendingRead.objects.filter(pk__in=list(ids)).delete()


def do_mark_offline_since(handset_pk: int, at: dt.datetime) -> None:
    """The phone (went offline or) went back offline at `at` (simulated time)."""
    with transaction.atomic():
        FleetHandset.objects.filter(pk=handset_pk).update(offline_since=at)


def do_record_handset_message(device: LocalDevice, item: HistoryItem) -> HandsetMessage:
    """A message the phone sent or received, kept in its own history."""
    if device.owner != LocalDevice.Owner.HANDSET:
        raise InvalidParameter(f"{device.e164} is a business number, not a handset.")
    now = clock.now()
    row = HandsetMessage(
        device=device,
        direction=item.direction,
        peer=item.peer,
        peer_device_id=item.peer_device_id,
        guid=item.guid,
        kind=item.kind,
        body=item.body,
        attachment=item.attachment,
        status=item.status,
        client_timestamp=item.client_timestamp,
        created_at=now,
        updated_at=now,
    )
    # One plain statement (a phone records every message it sends or receives).
    insert_instances([row])
    return row


def do_apply_handset_receipt(device: LocalDevice, guid: str, status: str) -> bool:
    """A receipt the phone got for a message it sent ("delivered", "read", "expired"): the
    message's status moves forward, never back. False when the phone sent no such message."""
    with transaction.atomic():
        row = (
            HandsetMessage.objects.select_for_update()
            .filter(device=device, guid=guid, direction=HandsetMessage.Direction.OUT)
            .first()
        )
        if row is None:
            return False
        if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(row.status, 0):
            row.status = status
            row.updated_at = clock.now()
            row.save(update_fields=["status", "updated_at"])
        return True


def do_note_typing(handset_id: int, peer: str, at: dt.datetime) -> None:
    """A typing indicator from `peer` arrived at `at` (simulated time): the phone shows
    "typing…" in that chat for a while."""
    HandsetTyping.objects.update_or_create(
        handset_id=handset_id,
        peer=peer,
        defaults={"since": at, "until": at + TYPING_SHOWN},
    )


def do_set_handset_blocks(handset: FleetHandset, blocks: bool) -> None:
    """The phone's user blocked (or unblocked) businesses (the relay already knows)."""
    FleetHandset.objects.filter(pk=handset.pk).update(blocks_businesses=blocks,
                                                      updated_at=clock.now())  # fmt: skip
    handset.blocks_businesses = blocks
