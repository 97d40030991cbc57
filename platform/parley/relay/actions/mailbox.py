"""The ciphertext mailbox: queue envelopes per recipient device, acknowledge them, and route
delivery / read / expiry receipts back to the sender's device."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery

from parley.core import clock
from parley.core.bulk import insert_instances
from parley.core.errors import InvalidParameter, NotFound, ParleyError
from parley.core.events import EnvelopeDelivered, EnvelopeExpired, EnvelopeQueued, Event
from parley.core.publish import publish_many
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


@dataclasses.dataclass(frozen=True)
class _Destination:
    """A recipient device as a send needs it (one row of the devices read)."""

    pk: int
    device_id: int
    registration_id: int


@dataclasses.dataclass(frozen=True)
class _Planned:
    """A recipient's messages once validated: each with the device it is queued for."""

    recipient: RelayAccount
    timestamp: int
    messages: list[tuple[_Destination, OutgoingMessage]]


def _queued_event(envelope: Envelope, recipient: _Target) -> EnvelopeQueued:
    sender = envelope.sender_account
    return EnvelopeQueued(
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


def _check_messages(
    messages: list[OutgoingMessage], *, timestamp: int
) -> dict[int, OutgoingMessage]:
    """The messages by destination device id, once their timestamp, types, contents and
    devices are valid (no database read)."""
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
    return given


def _check_reachable(sender: Device, recipient: RelayAccount) -> None:
    if recipient.blocks_businesses and sender.account.kind == RelayAccount.Kind.BUSINESS:
        # Blocked: the same answer as for a number that is not registered.
        raise NotFound(f"No relay account for {recipient.e164}.")


def _destinations(account_ids: list[int], *, sender: Device) -> dict[int, dict[int, _Destination]]:
    """The devices of these accounts (the sender's own device left out), by account id and
    device id: one read for however many recipients."""
    found: dict[int, dict[int, _Destination]] = {pk: {} for pk in account_ids}
    if not account_ids:
        return found
    rows = (
        Device.objects.filter(account_id__in=account_ids)
        .exclude(pk=sender.pk)
        .order_by()
        .values_list("pk", "account_id", "device_id", "registration_id")
    )
    for pk, account_id, device_id, registration_id in rows:
        found[account_id][device_id] = _Destination(pk, device_id, registration_id)
    return found


def _plan(
    recipient: RelayAccount,
    given: dict[int, OutgoingMessage],
    devices: dict[int, _Destination],
    *,
    timestamp: int,
) -> _Planned:
    """The messages matched to the recipient's devices: they must name exactly its
    devices, each with its current registration id."""
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
    return _Planned(
        recipient, timestamp, [(devices[device_id], m) for device_id, m in sorted(given.items())]
    )


def _queue(sender: Device, planned: list[_Planned], *, now: dt.datetime) -> list[list[Sent]]:
    """Queue the planned messages (an envelope and a delivery record each, and its
    EnvelopeQueued event), in their order: one INSERT per table for all of them. Call
    inside the caller's transaction."""
    expires = now + conf.retention()
    account = sender.account
    envelopes: list[Envelope] = []
    records: list[DeliveryRecord] = []
    events: list[EnvelopeQueued] = []
    sent: list[list[Sent]] = []
    for plan in planned:
        recipient = plan.recipient
        business_id = recipient.business_id
        mine: list[Sent] = []
        for device, m in plan.messages:
            guid = uuid.uuid4()
            size = len(m.content)
            envelope = Envelope(
                guid=guid,
                recipient_id=device.pk,
                sender_account=account,
                sender_device_id=sender.device_id,
                type=m.type,
                content=m.content,
                size=size,
                client_timestamp=plan.timestamp,
                server_timestamp=now,
                expires_at=expires,
            )
            envelopes.append(envelope)
            records.append(
                DeliveryRecord(
                    guid=guid,
                    sender_account=account,
                    sender_device_id=sender.device_id,
                    recipient_account=recipient,
                    recipient_device_id=device.device_id,
                    type=m.type,
                    size=size,
                    client_timestamp=plan.timestamp,
                    server_timestamp=now,
                )
            )
            target = _Target(device.pk, device.device_id, recipient.e164, business_id)
            events.append(_queued_event(envelope, target))
            mine.append(Sent(str(guid), device.device_id))
        sent.append(mine)
    if envelopes:
        insert_instances(envelopes)
        insert_instances(records)
        publish_many(events)
    return sent


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
    given = _check_messages(messages, timestamp=timestamp)
    _check_reachable(sender, recipient)
    now = clock.now()
    with transaction.atomic():
        devices = _destinations([recipient.pk], sender=sender)[recipient.pk]
        planned = _plan(recipient, given, devices, timestamp=timestamp)
        (sent,) = _queue(sender, [planned], now=now)
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
    queued. What a business endpoint sending to many customers needs: the statements do not
    grow with the batch (one read of the recipients' accounts, one of their devices, then
    one INSERT of the envelopes, one of the delivery records and one of their events)."""
    now = clock.now()
    results: list[list[Sent] | ParleyError] = []
    with transaction.atomic():
        accounts = {
            a.e164: a
            for a in RelayAccount.objects.select_related("phone_number").filter(
                e164__in={item.destination for item in items}
            )
        }
        devices = _destinations([a.pk for a in accounts.values()], sender=sender)
        planned: list[_Planned] = []
        places: list[int] = []
        for item in items:
            try:
                # Each item is checked as do_send_messages checks it, in the same order:
                # nothing is written until every item is checked.
                recipient = accounts.get(item.destination)
                if recipient is None:
                    raise NotFound(f"No relay account for {item.destination}.")
                given = _check_messages(item.messages, timestamp=item.timestamp)
                _check_reachable(sender, recipient)
                planned.append(
                    _plan(recipient, given, devices[recipient.pk], timestamp=item.timestamp)
                )
            except ParleyError as exc:
                results.append(exc)
                continue
            places.append(len(results))
            results.append([])
        for place, sent in zip(places, _queue(sender, planned, now=now), strict=True):
            results[place] = sent
    return results


_TARGET = (
    "SELECT d.id, d.device_id, a.e164, p.business_id FROM relay_device d"
    " JOIN relay_relayaccount a ON a.id = d.account_id"
    " LEFT JOIN accounts_phonenumber p ON p.id = a.phone_number_id"
    " WHERE d.account_id = %s AND d.device_id = %s"
)


def _receipt_target(account_id: int, device_id: int) -> _Target | None:
    """The sender's device of a message, if it still exists (one plain read)."""
    with connection.cursor() as cursor:
        cursor.execute(_TARGET, [account_id, device_id])
        row = cursor.fetchone()
    return None if row is None else _Target(int(row[0]), int(row[1]), str(row[2]), int(row[3] or 0))


def _with_sender_device(records: QuerySet[DeliveryRecord]) -> QuerySet[DeliveryRecord]:
    """The records with the primary key of their sender's device (None once it is gone) as
    `sender_device_pk`: with `sender_account` and its phone number loaded, what a receipt
    needs to be queued without another read."""
    device = Device.objects.filter(
        account_id=OuterRef("sender_account_id"), device_id=OuterRef("sender_device_id")
    )
    return records.annotate(sender_device_pk=Subquery(device.order_by().values("pk")[:1]))


def _target_of(record: DeliveryRecord) -> _Target | None:
    """The device a receipt about the record goes to, if it still exists."""
    if not hasattr(record, "sender_device_pk"):
        return _receipt_target(record.sender_account_id, record.sender_device_id)
    device_pk = record.sender_device_pk
    if device_pk is None:
        return None
    sender = record.sender_account
    return _Target(int(device_pk), record.sender_device_id, sender.e164, sender.business_id)


def _receipt_envelope(
    target: _Target,
    *,
    guid: uuid.UUID,
    client_timestamp: int,
    kind: ReceiptKind,
    at: dt.datetime,
    from_account: RelayAccount | None,
    from_device_id: int | None,
) -> Envelope:
    """A receipt envelope for the target device (unsaved): the caller inserts it and
    publishes its event."""
    return Envelope(
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


def queue_receipt(
    record: DeliveryRecord,
    kind: ReceiptKind,
    *,
    at: dt.datetime,
    from_account: RelayAccount | None,
    from_device_id: int | None,
    then: Sequence[Event] = (),
) -> Envelope | None:
    """Queue a receipt envelope about `record` to its sender's device (if it still exists)
    and publish its EnvelopeQueued, then the events `then`, in one append to the stream.
    Call inside the caller's transaction."""
    target = _target_of(record)
    events = list(then)
    envelope = None
    if target is not None:
        envelope = _receipt_envelope(
            target,
            guid=record.guid,
            client_timestamp=record.client_timestamp,
            kind=kind,
            at=at,
            from_account=from_account,
            from_device_id=from_device_id,
        )
        envelope.save(force_insert=True)
        events.insert(0, _queued_event(envelope, target))
    publish_many(events)
    return envelope


def notify_undelivered(envelopes: list[Envelope], *, at: dt.datetime) -> int:
    """The envelopes were dropped before delivery (they expired, or their device was
    re-registered): for each client message, mark its delivery record expired, queue an
    `expired` receipt to the sender's device and publish EnvelopeExpired. Call inside the
    caller's transaction once the envelopes are deleted; their `recipient.account` must be
    loaded. Returns how many client messages there were."""
    client = [e for e in envelopes if not e.receipt_kind]
    records = {
        r.guid: r
        for r in _with_sender_device(
            DeliveryRecord.objects.select_for_update(of=("self",))
            .select_related("sender_account", "sender_account__phone_number")
            .filter(guid__in=[e.guid for e in client])
        )
    }
    for envelope in client:
        record = records.get(envelope.guid)
        if record is None:
            continue
        record.expired_at = at
        record.save(update_fields=["expired_at"])
        expired = EnvelopeExpired(
            business_id=record.sender_account.business_id,
            occurred_at=at,
            guid=str(record.guid),
            sender_e164=record.sender_account.e164,
            sender_device_id=record.sender_device_id,
            recipient_e164=envelope.recipient.account.e164,
            recipient_device_id=envelope.recipient.device_id,
        )
        queue_receipt(
            record,
            ReceiptKind.EXPIRED,
            at=at,
            from_account=None,
            from_device_id=None,
            then=[expired],
        )
    return len(client)


def _delivered_event(
    record: DeliveryRecord, kind: str, recipient: Device, at: dt.datetime
) -> EnvelopeDelivered:
    sender = record.sender_account
    return EnvelopeDelivered(
        business_id=sender.business_id,
        occurred_at=at,
        guid=str(record.guid),
        kind=kind,
        sender_e164=sender.e164,
        sender_device_id=record.sender_device_id,
        recipient_e164=recipient.account.e164,
        recipient_device_id=recipient.device_id,
    )


_ACK = "DELETE FROM relay_envelope WHERE recipient_id = %s AND guid = %s RETURNING receipt_kind"
# What the delivery receipt and event need about the message's sender: its device's
# primary key (NULL once the device is gone), its number and its tenant.
_SENDER = (
    " RETURNING relay_deliveryrecord.sender_account_id,"
    " relay_deliveryrecord.sender_device_id, relay_deliveryrecord.client_timestamp,"
    " (SELECT d.id FROM relay_device d"
    "  WHERE d.account_id = relay_deliveryrecord.sender_account_id"
    "  AND d.device_id = relay_deliveryrecord.sender_device_id) AS device_pk,"
    " (SELECT a.e164 FROM relay_relayaccount a"
    "  WHERE a.id = relay_deliveryrecord.sender_account_id) AS e164,"
    " (SELECT p.business_id FROM relay_relayaccount a"
    "  JOIN accounts_phonenumber p ON p.id = a.phone_number_id"
    "  WHERE a.id = relay_deliveryrecord.sender_account_id) AS business_id"
)
_UNDELIVERED = "relay_deliveryrecord.guid = %s AND relay_deliveryrecord.delivered_at IS NULL"
_DELIVERED = "UPDATE relay_deliveryrecord SET delivered_at = %s WHERE " + _UNDELIVERED + _SENDER
# PostgreSQL: acknowledgements (recipient device, guid) in one statement, however many:
# the DELETE of their envelopes, and the UPDATE of the records of the client envelopes it
# deleted (a receipt's kind is not blank). A row per envelope deleted (none: no such
# envelope in that queue), without the record's columns when there is nothing to tell (a
# receipt, no record, or delivered before).
_ACK_MANY_AND_DELIVERED = (
    "WITH acks AS (SELECT * FROM unnest(%s::bigint[], %s::uuid[]) AS a(recipient_id, guid)),"
    " gone AS (DELETE FROM relay_envelope e USING acks"
    " WHERE e.recipient_id = acks.recipient_id AND e.guid = acks.guid"
    " RETURNING e.recipient_id, e.guid, e.receipt_kind),"
    " done AS (UPDATE relay_deliveryrecord SET delivered_at = %s FROM gone"
    " WHERE gone.receipt_kind = '' AND relay_deliveryrecord.guid = gone.guid"
    " AND relay_deliveryrecord.delivered_at IS NULL"
    + _SENDER
    + ", relay_deliveryrecord.guid AS record_guid)"
    " SELECT gone.recipient_id, gone.guid, gone.receipt_kind, done.sender_account_id,"
    " done.sender_device_id, done.client_timestamp, done.device_pk, done.e164,"
    " done.business_id, done.record_guid FROM gone LEFT JOIN done ON done.record_guid = gone.guid"
)


NOT_QUEUED = "No such message in this device's queue."


def _ack(
    device: Device,
    guid: uuid.UUID | str,
    *,
    now: dt.datetime,
    receipts: list[Envelope],
    events: list[Event],
) -> None:
    """Drop the envelope from the device's queue and, unless it was itself a receipt, mark
    its message delivered (SQLite; PostgreSQL takes many in one statement, `_ack_many_pg`):
    plain statements that each take their row (a DELETE and an UPDATE … RETURNING what the
    receipt needs about the sender), no read first. Adds the delivery receipt (unsaved) and
    the events to publish to `receipts` and `events`; NotFound (nothing written) when the
    envelope is not in the queue."""
    key = uuid.UUID(str(guid))
    param = Envelope._meta.get_field("guid").get_db_prep_value(key, connection)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_ACK, [device.pk, param])
        row = cursor.fetchone()
        if row is None:
            raise NotFound(NOT_QUEUED)
        record = None
        if not row[0]:
            cursor.execute(_DELIVERED, [stamp, param])
            record = cursor.fetchone()
    _acked(device, key, row[0], record, now=now, receipts=receipts, events=events)


def _acked(
    device: Device,
    key: uuid.UUID,
    receipt_kind: str,
    record: tuple[Any, ...] | None,
    *,
    now: dt.datetime,
    receipts: list[Envelope],
    events: list[Event],
) -> None:
    """What an acknowledgement the queue took tells: for a client envelope whose record
    it marked delivered (`record`: what the sender's side of it returned), the delivery
    receipt (unsaved) and the events."""
    if receipt_kind:
        return  # a receipt: nobody to tell
    if record is None:
        return  # no record, or delivered before
    _, sender_device_id, client_timestamp, device_pk, e164, business_id = record
    if device_pk is not None:
        target = _Target(int(device_pk), int(sender_device_id), str(e164), int(business_id or 0))
        receipt = _receipt_envelope(
            target,
            guid=key,
            client_timestamp=int(client_timestamp),
            kind=ReceiptKind.DELIVERY,
            at=now,
            from_account=device.account,
            from_device_id=device.device_id,
        )
        receipts.append(receipt)
        events.append(_queued_event(receipt, target))
    events.append(
        EnvelopeDelivered(
            business_id=int(business_id or 0),
            occurred_at=now,
            guid=str(key),
            kind=ReceiptKind.DELIVERY,
            sender_e164=str(e164),
            sender_device_id=int(sender_device_id),
            recipient_e164=device.account.e164,
            recipient_device_id=device.device_id,
        )
    )


def _queue_acked(receipts: list[Envelope], events: list[Event]) -> None:
    """Insert the delivery receipts and publish the events of acknowledgements: one INSERT
    and one append to the stream, however many."""
    insert_instances(receipts)
    publish_many(events)


def do_ack_envelope(device: Device, guid: uuid.UUID | str) -> None:
    """The device has the envelope: drop it from the queue and tell the sender (delivery
    receipt) unless it was itself a receipt, as `do_ack_from_devices` does. This runs for
    every envelope: the DELETE and the UPDATE (one statement on PostgreSQL), the receipt's
    INSERT and one append of both events; NotFound (nothing written) when the envelope is
    not in the device's queue."""
    if not do_ack_from_devices([(device, guid)])[0]:
        raise NotFound(NOT_QUEUED)


def do_ack_envelopes(device: Device, guids: list[str]) -> int:
    """Acknowledge several envelopes of one device, as `do_ack_from_devices` does; guids
    no longer in the queue (acknowledged before) are skipped. Returns how many were
    acknowledged now."""
    return sum(do_ack_from_devices([(device, guid) for guid in dict.fromkeys(guids)]))


def _ack_many_pg(
    acks: Sequence[tuple[Device, uuid.UUID | str]],
    *,
    now: dt.datetime,
    receipts: list[Envelope],
    events: list[Event],
) -> list[bool]:
    keys = [(device, uuid.UUID(str(guid))) for device, guid in acks]
    with connection.cursor() as cursor:
        cursor.execute(
            _ACK_MANY_AND_DELIVERED,
            [[d.pk for d, _ in keys], [k for _, k in keys],
             connection.ops.adapt_datetimefield_value(now)],
        )  # fmt: skip
        taken = {(int(row[0]), uuid.UUID(str(row[1]))): row for row in cursor.fetchall()}
    done: list[bool] = []
    for device, key in keys:
        row = taken.pop((device.pk, key), None)  # a second ack of one guid finds nothing
        done.append(row is not None)
        if row is not None:
            record = None if row[9] is None else tuple(row[3:9])
            _acked(device, key, row[2], record, now=now, receipts=receipts, events=events)
    return done


def do_ack_from_devices(acks: Sequence[tuple[Device, uuid.UUID | str]]) -> list[bool]:
    """Acknowledgements of any devices in one transaction (the relay's websockets gather
    them): each drops its envelope from its device's queue and, unless that was itself a
    receipt, marks the message delivered and tells its sender. One statement for all of
    them on PostgreSQL (two each elsewhere), then one INSERT of all the delivery receipts
    and one append of all the events. Returns, for each, whether its envelope was in its
    device's queue (False: nothing written for it, as a second ack of one guid)."""
    now = clock.now()
    receipts: list[Envelope] = []
    events: list[Event] = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            done = _ack_many_pg(acks, now=now, receipts=receipts, events=events) if acks else []
        else:
            done = [_ack_or_not(d, g, now=now, receipts=receipts, events=events) for d, g in acks]
        _queue_acked(receipts, events)
    return done


def _ack_or_not(
    device: Device,
    guid: uuid.UUID | str,
    *,
    now: dt.datetime,
    receipts: list[Envelope],
    events: list[Event],
) -> bool:
    try:
        # No savepoint: a guid not in the queue has written nothing.
        _ack(device, guid, now=now, receipts=receipts, events=events)
    except NotFound:
        return False
    return True


def _received_record(device: Device, guid: uuid.UUID | str) -> DeliveryRecord:
    """The delivery record of a message this device received, locked; NotFound otherwise."""
    record = _with_sender_device(
        DeliveryRecord.objects.select_for_update(of=("self",))
        .select_related("sender_account", "sender_account__phone_number")
        .filter(
            guid=guid,
            recipient_account_id=device.account_id,
            recipient_device_id=device.device_id,
        )
    ).first()
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
            then=[_delivered_event(record, ReceiptKind.READ, device, now)],
        )
