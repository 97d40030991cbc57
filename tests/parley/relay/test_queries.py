"""How many statements the relay's hottest paths cost: a batch to many recipients costs the
same whatever its size, an acknowledgement a few statements; and what a batch writes when
one of its items is refused among good ones."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.core.errors import InvalidParameter, NotFound, ParleyError
from parley.core.events import EnvelopeDelivered, EnvelopeQueued
from parley.core.models import StreamEntry
from parley.relay.actions.mailbox import (
    BatchItem,
    OutgoingMessage,
    Sent,
    do_ack_envelope,
    do_ack_envelopes,
    do_ack_from_devices,
    do_send_batch,
)
from parley.relay.errors import DeviceMismatch, StaleDevices
from parley.relay.models import DeliveryRecord, Device, Envelope
from parley.relay.selectors import list_pending_envelopes_of

pytestmark = pytest.mark.django_db


def device_of(number: str, device_id: int = 1) -> Device:
    return Device.objects.select_related("account", "account__phone_number").get(
        account__e164=number, device_id=device_id
    )


def item(number: str, content: bytes, *, timestamp: int = 1_772_000_000_000) -> BatchItem:
    return BatchItem(number, timestamp, [OutgoingMessage(1, None, 1, content)])


def sent_in(outcome: list[Sent] | ParleyError) -> list[Sent]:
    assert isinstance(outcome, list), outcome
    return outcome


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements run, less transaction control (savepoints: the test's transaction
    turns the action's own into savepoints)."""
    control = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
    # Django notes one executemany (SQLite's bulk insert) as "<n> times: <statement>".
    sql = [re.sub(r"^\d+ times: ", "", q["sql"]) for q in queries.captured_queries]
    return [q for q in sql if not q.startswith(control)]


def batch_statements(sender: Device, items: list[BatchItem]) -> int:
    with CaptureQueriesContext(connection) as queries:
        outcomes = do_send_batch(sender, items)
    assert all(isinstance(o, list) for o in outcomes), outcomes
    return len(statements(queries))


# Each batch in its own transaction, as in production (the stream's position is held once
# per transaction). On PostgreSQL the events' INSERT goes through its own cursor, which
# Django does not count: add one.
@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_the_same_statements_for_3_or_20_recipients(handset: Any) -> None:
    alice = handset()
    recipients = [handset().number for _ in range(20)]
    sender = device_of(alice.number)
    few = batch_statements(sender, [item(n, b"\x01" * 16) for n in recipients[:3]])
    many = batch_statements(sender, [item(n, b"\x02" * 16) for n in recipients])
    assert few == many, (few, many)
    # The accounts, the devices, the envelopes, the records, (the stream's position,) the
    # events.
    assert many <= 6
    assert Envelope.objects.count() == DeliveryRecord.objects.count() == 23
    assert StreamEntry.objects.filter(name=EnvelopeQueued.name).count() == 23


def test_a_refused_item_among_good_ones_writes_only_the_good_ones(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob, carol, dave = handset(), handset(), handset(), handset()
    sender = device_of(alice.number)
    items = [
        item(bob.number, b"\x01" * 16, timestamp=11),
        item("+919899999998", b"\x02" * 16),  # no such account
        BatchItem(carol.number, 12, [OutgoingMessage(2, None, 1, b"\x03" * 16)]),  # mismatch
        BatchItem(carol.number, 13, [OutgoingMessage(1, 999, 1, b"\x04" * 16)]),  # stale
        BatchItem(dave.number, 14, [OutgoingMessage(1, None, 2, b"\x05" * 16)]),  # bad type
        BatchItem(dave.number, -1, [OutgoingMessage(1, None, 1, b"\x06" * 16)]),  # timestamp
        BatchItem(dave.number, 15, [OutgoingMessage(1, None, 1, b"")]),  # empty
        BatchItem(sender.account.e164, 18, []),  # to itself: no other device
        item(carol.number, b"\x08" * 16, timestamp=16),
        item(bob.number, b"\x09" * 16, timestamp=17),  # the same recipient again
    ]
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = do_send_batch(sender, items)
    kinds = [type(o) if isinstance(o, ParleyError) else list for o in outcomes]
    assert kinds == [
        list, NotFound, DeviceMismatch, StaleDevices, InvalidParameter, InvalidParameter,
        InvalidParameter, InvalidParameter, list, list,
    ]  # fmt: skip
    mismatch = outcomes[2]
    assert isinstance(mismatch, DeviceMismatch)
    assert (mismatch.missing, mismatch.extra) == ([1], [2])
    stale = outcomes[3]
    assert isinstance(stale, StaleDevices) and stale.stale == [1]
    assert "No relay account for +919899999998" in str(outcomes[1])
    assert "no other devices" in str(outcomes[7])
    good = [sent_in(outcomes[i])[0].guid for i in (0, 8, 9)]
    envelopes = {str(e.guid): e for e in Envelope.objects.select_related("recipient__account")}
    assert set(envelopes) == set(good)
    seen = [(envelopes[g].recipient.account.e164, bytes(envelopes[g].content)) for g in good]
    assert seen == [
        (bob.number, b"\x01" * 16),
        (carol.number, b"\x08" * 16),
        (bob.number, b"\x09" * 16),
    ]
    assert [envelopes[g].client_timestamp for g in good] == [11, 16, 17]
    records = {str(r.guid): r for r in DeliveryRecord.objects.all()}
    assert set(records) == set(good)
    for g in good:
        envelope, record = envelopes[g], records[g]
        assert record.sender_account_id == sender.account_id and record.sender_device_id == 1
        assert record.recipient_account_id == envelope.recipient.account_id
        assert record.recipient_device_id == envelope.recipient.device_id
        assert (record.type, record.size) == (envelope.type, envelope.size) == (1, 16)
        assert record.client_timestamp == envelope.client_timestamp
        assert record.server_timestamp == envelope.server_timestamp
        assert envelope.sender_account_id == sender.account_id
        assert envelope.receipt_kind == "" and envelope.receipt_guid is None
    # Envelopes were queued in the batch's order, and their events published in it.
    ordered = list(Envelope.objects.order_by("id").values_list("guid", flat=True))
    assert [str(g) for g in ordered] == good
    queued = [e for e in events if isinstance(e, EnvelopeQueued)]
    assert [(e.guid, e.recipient_e164, e.sender_e164, e.size) for e in queued] == [
        (good[0], bob.number, alice.number, 16),
        (good[1], carol.number, alice.number, 16),
        (good[2], bob.number, alice.number, 16),
    ]
    stream = list(
        StreamEntry.objects.filter(name=EnvelopeQueued.name)
        .order_by("id")
        .values_list("payload", flat=True)
    )
    assert [p["guid"] for p in stream] == good


def test_an_acknowledgement_costs_a_few_statements(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    sender, recipient = device_of(alice.number), device_of(bob.number)
    (sent,) = sent_in(do_send_batch(sender, [item(bob.number, b"\x01" * 16)])[0])
    events.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        do_ack_envelope(recipient, sent.guid)
    # A DELETE and an UPDATE (one statement on PostgreSQL), the receipt's INSERT and the
    # events' (not counted on PostgreSQL, see above).
    assert len(statements(queries)) <= 4, statements(queries)
    # The delivery receipt is queued to the sender, and both events published in order.
    assert [type(e) for e in events] == [EnvelopeQueued, EnvelopeDelivered]
    receipt = Envelope.objects.get(recipient=sender)
    assert (receipt.receipt_kind, str(receipt.receipt_guid)) == ("delivery", sent.guid)
    assert receipt.sender_account_id == recipient.account_id and receipt.sender_device_id == 1
    assert DeliveryRecord.objects.get(guid=sent.guid).delivered_at is not None
    with pytest.raises(NotFound):
        do_ack_envelope(recipient, sent.guid)
    with pytest.raises(NotFound):
        do_ack_envelope(recipient, uuid.uuid4())


def test_acknowledgements_in_one_call_share_their_inserts(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    sender, recipient = device_of(alice.number), device_of(bob.number)
    counts = []
    for n in (3, 10):
        outcomes = do_send_batch(sender, [item(bob.number, bytes([i]) * 8) for i in range(n)])
        guids = [sent_in(o)[0].guid for o in outcomes]
        events.clear()
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            assert do_ack_envelopes(recipient, [*guids, str(uuid.uuid4())]) == n
        counts.append(len(statements(queries)))
        # Each message's receipt (queued to Alice), then its delivery, in the acks' order.
        receipts = list(Envelope.objects.filter(recipient=sender).order_by("id"))
        assert [str(r.receipt_guid) for r in receipts] == guids
        assert [(type(e), e.guid) for e in events] == [
            pair
            for receipt, guid in zip(receipts, guids, strict=True)
            for pair in ((EnvelopeQueued, str(receipt.guid)), (EnvelopeDelivered, guid))
        ]
        Envelope.objects.filter(recipient=sender).delete()
    # Per acknowledgement: a DELETE and an UPDATE (on PostgreSQL one statement for all the
    # acknowledgements); the receipts' INSERT and the events' once.
    per_ack = 0 if connection.vendor == "postgresql" else 2
    assert counts[1] - counts[0] == per_ack * 7, counts


def test_acknowledgements_of_several_devices_share_one_transaction(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """What the relay's websockets gather: each phone's ack as `do_ack_envelope` makes it,
    the receipts of all of them in one INSERT; an ack of a guid not (or no longer) in its
    device's queue writes nothing and is reported as such."""
    alice = handset()
    sender = device_of(alice.number)
    phones = [handset() for _ in range(3)]
    acks: list[tuple[Device, str]] = []
    for phone in phones:
        (sent,) = sent_in(do_send_batch(sender, [item(phone.number, b"\x05" * 8)])[0])
        acks.append((device_of(phone.number), sent.guid))
    first_device, first_guid = acks[0]
    events.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        done = do_ack_from_devices([*acks, (first_device, first_guid), (acks[1][0], first_guid)])
    # The second ack of a guid, and another device's ack of it, find nothing.
    assert done == [True, True, True, False, False]
    inserts = [q for q in statements(queries) if q.lstrip().upper().startswith("INSERT")]
    assert len([q for q in inserts if "relay_envelope" in q]) == 1, inserts
    receipts = Envelope.objects.filter(recipient=sender).order_by("id")
    assert [str(r.receipt_guid) for r in receipts] == [guid for _, guid in acks]
    assert [type(e) for e in events] == [EnvelopeQueued, EnvelopeDelivered] * 3
    assert DeliveryRecord.objects.filter(delivered_at__isnull=False).count() == 3
    assert not Envelope.objects.filter(recipient__in=[d for d, _ in acks]).exists()


def test_the_envelopes_to_push_to_several_phones_are_one_read(handset: Any) -> None:
    alice = handset()
    sender = device_of(alice.number)
    phones = [handset() for _ in range(3)]
    wanted: list[tuple[Device, str]] = []
    for phone in phones:
        (sent,) = sent_in(do_send_batch(sender, [item(phone.number, b"\x06" * 8)])[0])
        wanted.append((device_of(phone.number), sent.guid))
    do_ack_envelope(*wanted[2])  # gone before it is pushed
    other_device, first_guid = device_of(phones[1].number), wanted[0][1]
    with CaptureQueriesContext(connection) as queries:
        found = list_pending_envelopes_of(
            [*wanted, (other_device, first_guid), (wanted[0][0], str(uuid.uuid4()))]
        )
    assert len(queries) == 1
    # Each phone's own envelope, with what the push needs loaded; never another phone's.
    first, second, acked, not_yours, unknown = found
    assert acked is None and not_yours is None and unknown is None
    assert first is not None and second is not None
    assert [str(first.guid), str(second.guid)] == [wanted[0][1], wanted[1][1]]
    assert first.recipient.credential_digest == wanted[0][0].credential_digest
    assert first.sender_account is not None and first.sender_account.e164 == alice.number
