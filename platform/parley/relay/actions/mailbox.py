"""The ciphertext mailbox: queue envelopes per recipient device, acknowledge them, and route
delivery / read / expiry receipts back to the sender's device."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.db import connection, transaction

from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound, ParleyError
from parley.core.events import EnvelopeDelivered, EnvelopeExpired, EnvelopeQueued
from parley.core.publish import publish
from parley.relay import conf
from parley.relay.errors import DeviceMismatch, StaleDevices
from parley.relay.models import (
    CLIENT_ENVELOPE_TYPES,
    DeliveryRecord,
    Device,
    Envelope,
    EnvelopeType,
    ReceiptKind,
    RelayAccount,
)
from parley.relay.selectors import get_account

_CLIENT_TYPES = sorted(int(t) for t in CLIENT_ENVELOPE_TYPES)


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    destination_device_id: int
    destination_registration_id: int | None
    type: int
    content: bytes


@dataclasses.dataclass(frozen=True)
class Sent:
    guid: str
    destination_device_id: int


@dataclasses.dataclass(frozen=True)
class _Target:
    """The device a receipt goes to, with what its EnvelopeQueued event names."""

    device_pk: int
    device_id: int
    e164: str
    business_id: int


def _queued_event(envelope: Envelope, recipient: _Target) -> None:
    sender = envelope.sender_account
    publish(
        EnvelopeQueued(
            business_id=recipient.business_id,
            occurred_at=envelope.server_timestamp,
            guid=str(envelope.guid),
            recipient_e164=recipient.e164,
            recipient_device_id=recipient.device_id,
            recipient_device_pk=recipient.device_pk,
            sender_e164=sender.e164 if sender is not None else "",
            sender_device_id=envelope.sender_device_id or 0,
            envelope_type=envelope.type,
            size=envelope.size,
        )
    )


def do_send_messages(
    sender: Device,
    recipient: RelayAccount,
    messages: list[OutgoingMessage],
    *,
    timestamp: int,
) -> list[Sent]:
    """Queue one ciphertext per recipient device. The list must name exactly the
    recipient's registered devices (the sender's own device excluded when writing to its
    own account), each with its current registration id."""
    limit = int(conf.get("RELAY_MAX_CIPHERTEXT_BYTES"))
    if not 0 <= timestamp < 2**63:
        raise InvalidParameter("timestamp must be milliseconds since the epoch.", field="timestamp")
    given: dict[int, OutgoingMessage] = {}
    for i, m in enumerate(messages):
        if m.type not in CLIENT_ENVELOPE_TYPES:
            raise InvalidParameter(
                f"messages[{i}].type must be one of {_CLIENT_TYPES}.",
                field="messages",
            )
        if not m.content:
            raise InvalidParameter(f"messages[{i}].content is empty.", field="messages")
        if len(m.content) > limit:
            raise InvalidParameter(
                f"messages[{i}].content is larger than {limit} bytes.", field="messages"
            )
        if m.destination_device_id in given:
            raise InvalidParameter(
                f"Device {m.destination_device_id} appears twice in messages.", field="messages"
            )
        given[m.destination_device_id] = m
    if recipient.blocks_businesses and sender.account.kind == RelayAccount.Kind.BUSINESS:
        # Blocked: the same answer as for a number that is not registered.
        raise NotFound(f"No relay account for {recipient.e164}.")
    now = clock.now()
    sent: list[Sent] = []
    with transaction.atomic():
        devices = {
            d.device_id: d for d in Device.objects.filter(account=recipient).exclude(pk=sender.pk)
        }
        missing = sorted(set(devices) - set(given))
        extra = sorted(set(given) - set(devices))
        if missing or extra:
            raise DeviceMismatch(missing=missing, extra=extra)
        if not devices:
            raise InvalidParameter("The recipient has no other devices to send to.")
        stale = sorted(
            device_id
            for device_id, m in given.items()
            if m.destination_registration_id is not None
            and m.destination_registration_id != devices[device_id].registration_id
        )
        if stale:
            raise StaleDevices(stale=stale)
        expires = now + conf.retention()
        envelopes = []
        records = []
        for device_id, m in sorted(given.items()):
            guid = uuid.uuid4()
            envelopes.append(
                Envelope(
                    guid=guid,
                    recipient=devices[device_id],
                    sender_account=sender.account,
                    sender_device_id=sender.device_id,
                    type=m.type,
                    content=m.content,
                    size=len(m.content),
                    client_timestamp=timestamp,
                    server_timestamp=now,
                    expires_at=expires,
                )
            )
            records.append(
                DeliveryRecord(
                    guid=guid,
                    sender_account=sender.account,
                    sender_device_id=sender.device_id,
                    recipient_account=recipient,
                    recipient_device_id=device_id,
                    type=m.type,
                    size=len(m.content),
                    client_timestamp=timestamp,
                    server_timestamp=now,
                )
            )
            sent.append(Sent(str(guid), device_id))
        Envelope.objects.bulk_create(envelopes)
        DeliveryRecord.objects.bulk_create(records)
        for envelope in envelopes:
            device = envelope.recipient
            target = _Target(device.pk, device.device_id, recipient.e164, recipient.business_id)
            _queued_event(envelope, target)
    return sent


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One recipient's part of a batch: its number, the message's client timestamp and
    one ciphertext per device."""

    destination: str
    timestamp: int
    messages: list[OutgoingMessage]


def do_send_batch(sender: Device, items: list[BatchItem]) -> list[list[Sent] | ParleyError]:
    """Queue several recipients' messages in one transaction, each as `do_send_messages`
    would. A recipient that cannot be sent to (unknown number, device mismatch, stale
    devices, bad content) gets its error in its place and queues nothing; the others are
    queued. One commit and one round trip for many messages: what a business endpoint
    sending to many customers needs."""
    results: list[list[Sent] | ParleyError] = []
    with transaction.atomic():
        for item in items:
            try:
                with transaction.atomic():  # a savepoint: a refused item leaves no rows
                    recipient = get_account(item.destination)
                    results.append(
                        do_send_messages(sender, recipient, item.messages, timestamp=item.timestamp)
                    )
            except ParleyError as exc:
                results.append(exc)
    return results


_TARGET = (
    "SELECT d.id, d.device_id, a.e164, p.business_id FROM relay_device d"
    " JOIN relay_relayaccount a ON a.id = d.account_id"
    " LEFT JOIN accounts_phonenumber p ON p.id = a.phone_number_id"
    " WHERE d.account_id = %s AND d.device_id = %s"
)


def _receipt_target(account_id: int, device_id: int) -> _Target | None:
    """The sender's device of a message, if it still exists (one plain read: this runs for
    every message a device acknowledges)."""
    with connection.cursor() as cursor:
        cursor.execute(_TARGET, [account_id, device_id])
        row = cursor.fetchone()
    return None if row is None else _Target(int(row[0]), int(row[1]), str(row[2]), int(row[3] or 0))


def _queue_receipt_to(
    target: _Target,
    *,
    guid: uuid.UUID,
    client_timestamp: int,
    kind: ReceiptKind,
    at: dt.datetime,
    from_account: RelayAccount | None,
    from_device_id: int | None,
) -> Envelope:
    envelope = Envelope.objects.create(
        recipient_id=target.device_pk,
        sender_account=from_account,
        sender_device_id=from_device_id,
        type=EnvelopeType.RECEIPT,
        content=b"",
        size=0,
        client_timestamp=client_timestamp,
        server_timestamp=at,
        expires_at=at + conf.retention(),
        receipt_kind=kind,
        receipt_guid=guid,
        receipt_at=at,
    )
    _queued_event(envelope, target)
    return envelope


def queue_receipt(
    record: DeliveryRecord,
    kind: ReceiptKind,
    *,
    at: dt.datetime,
    from_account: RelayAccount | None,
    from_device_id: int | None,
) -> Envelope | None:
    """Queue a receipt envelope about `record` to its sender's device (if it still exists).
    Call inside the caller's transaction."""
    target = _receipt_target(record.sender_account_id, record.sender_device_id)
    if target is None:
        return None
    return _queue_receipt_to(
        target,
        guid=record.guid,
        client_timestamp=record.client_timestamp,
        kind=kind,
        at=at,
        from_account=from_account,
        from_device_id=from_device_id,
    )


def notify_undelivered(envelopes: list[Envelope], *, at: dt.datetime) -> int:
    """The envelopes were dropped before delivery (they expired, or their device was
    re-registered): for each client message, mark its delivery record expired, queue an
    `expired` receipt to the sender's device and publish EnvelopeExpired. Call inside the
    caller's transaction once the envelopes are deleted; their `recipient.account` must be
    loaded. Returns how many client messages there were."""
    client = [e for e in envelopes if not e.receipt_kind]
    records = {
        r.guid: r
        for r in DeliveryRecord.objects.select_for_update(of=("self",))
        .select_related("sender_account", "sender_account__phone_number")
        .filter(guid__in=[e.guid for e in client])
    }
    for envelope in client:
        record = records.get(envelope.guid)
        if record is None:
            continue
        record.expired_at = at
        record.save(update_fields=["expired_at"])
        queue_receipt(record, ReceiptKind.EXPIRED, at=at, from_account=None, from_device_id=None)
        publish(
            EnvelopeExpired(
                business_id=record.sender_account.business_id,
                occurred_at=at,
                guid=str(record.guid),
                sender_e164=record.sender_account.e164,
                sender_device_id=record.sender_device_id,
                recipient_e164=envelope.recipient.account.e164,
                recipient_device_id=envelope.recipient.device_id,
            )
        )
    return len(client)


def _delivered_event(record: DeliveryRecord, kind: str, recipient: Device, at: dt.datetime) -> None:
    sender = record.sender_account
    publish(
        EnvelopeDelivered(
            business_id=sender.business_id,
            occurred_at=at,
            guid=str(record.guid),
            kind=kind,
            sender_e164=sender.e164,
            sender_device_id=record.sender_device_id,
            recipient_e164=recipient.account.e164,
            recipient_device_id=recipient.device_id,
        )
    )


_ACK = "DELETE FROM relay_envelope WHERE recipient_id = %s AND guid = %s RETURNING receipt_kind"
_DELIVERED = (
    "UPDATE relay_deliveryrecord SET delivered_at = %s WHERE guid = %s AND delivered_at IS NULL"
    " RETURNING sender_account_id, sender_device_id, client_timestamp"
)


def do_ack_envelope(device: Device, guid: uuid.UUID | str) -> None:
    """The device has the envelope: drop it from the queue and tell the sender (delivery
    receipt) unless it was itself a receipt. Plain statements that each take their row
    (a DELETE and an UPDATE … RETURNING, no read first): this runs for every envelope."""
    now = clock.now()
    key = uuid.UUID(str(guid))
    param = Envelope._meta.get_field("guid").get_db_prep_value(key, connection)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_ACK, [device.pk, param])
        row = cursor.fetchone()
        if row is None:
            raise NotFound("No such message in this device's queue.")
        if row[0]:
            return  # a receipt: nobody to tell
        cursor.execute(_DELIVERED, [connection.ops.adapt_datetimefield_value(now), param])
        record = cursor.fetchone()
        if record is None:
            return  # no record, or delivered before
        sender_account_id, sender_device_id, client_timestamp = record
        target = _receipt_target(sender_account_id, sender_device_id)
        if target is not None:
            _queue_receipt_to(
                target,
                guid=key,
                client_timestamp=int(client_timestamp),
                kind=ReceiptKind.DELIVERY,
                at=now,
                from_account=device.account,
                from_device_id=device.device_id,
            )
        sender = target if target is not None else _account_of(sender_account_id)
        publish(
            EnvelopeDelivered(
                business_id=sender.business_id,
                occurred_at=now,
                guid=str(key),
                kind=ReceiptKind.DELIVERY,
                sender_e164=sender.e164,
                sender_device_id=int(sender_device_id),
                recipient_e164=device.account.e164,
                recipient_device_id=device.device_id,
            )
        )


def _account_of(account_id: int) -> _Target:
    """The sender's account when its device is gone (what the event names)."""
    account = RelayAccount.objects.select_related("phone_number").get(pk=account_id)
    return _Target(0, 0, account.e164, account.business_id)


def do_ack_envelopes(device: Device, guids: list[str]) -> int:
    """Acknowledge several envelopes in one transaction, each as `do_ack_envelope` does;
    guids no longer in the queue (acknowledged before) are skipped. Returns how many were
    acknowledged now."""
    acked = 0
    with transaction.atomic():
        for guid in dict.fromkeys(guids):
            try:
                do_ack_envelope(device, guid)
            except NotFound:
                continue
            acked += 1
    return acked


def _received_record(device: Device, guid: uuid.UUID | str) -> DeliveryRecord:
    """The delivery record of a message this device received, locked; NotFound otherwise."""
    record = (
        DeliveryRecord.objects.select_for_update(of=("self",))
        .select_related("sender_account", "sender_account__phone_number")
        .filter(
            guid=guid,
            recipient_account_id=device.account_id,
            recipient_device_id=device.device_id,
        )
        .first()
    )
    if record is None:
        raise NotFound("No such message was delivered to this device.")
    return record


def do_send_typing_indicator(device: Device, guid: uuid.UUID | str) -> None:
    """The recipient of the message is writing an answer: tell the sender's device (a
    receipt about that message; the phone shows it for a while). Nothing is recorded."""
    now = clock.now()
    with transaction.atomic():
        record = _received_record(device, guid)
        queue_receipt(
            record,
            ReceiptKind.TYPING,
            at=now,
            from_account=device.account,
            from_device_id=device.device_id,
        )


def do_send_read_receipt(device: Device, guid: uuid.UUID | str) -> None:
    """The recipient read the message: tell the sender's device. Idempotent."""
    now = clock.now()
    with transaction.atomic():
        record = _received_record(device, guid)
        if record.read_at is not None:
            return
        record.read_at = now
        record.save(update_fields=["read_at"])
        queue_receipt(
            record,
            ReceiptKind.READ,
            at=now,
            from_account=device.account,
            from_device_id=device.device_id,
        )
        _delivered_event(record, ReceiptKind.READ, device, now)
