"""Offline delivery, receipts, 30-day expiry, identity change and backups through the real
relay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from e2ee.actions import client_for, do_restore_device
from e2ee.client import SignalClient
from e2ee.protocol import ProtocolAddress
from e2ee.protocol.backup import generate_recovery_key
from parley.core import clock
from parley.relay.actions.retention import do_expire_envelopes

pytestmark = pytest.mark.django_db(transaction=True)


def texts(client: SignalClient) -> list[str]:
    return [r.body for r in client.receive() if r.kind == "text"]


def statuses(client: SignalClient) -> list[tuple[str, str]]:
    return [(m.body, m.status) for m in client.state.list_messages() if m.direction == "out"]


def test_offline_recipient_gets_queued_messages_in_order(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    alice = make_handset()
    for text in ["one", "two", "three"]:
        alice.send_text(business_endpoint.e164, text)
    business_endpoint.send_text(alice.e164, "reply while alice is offline")
    # Later both come online.
    assert texts(business_endpoint) == ["one", "two", "three"]
    assert texts(alice) == ["reply while alice is offline"]


def test_out_of_order_delivery_decrypts(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    alice = make_handset()
    alice.send_text(business_endpoint.e164, "hello")
    assert texts(business_endpoint) == ["hello"]
    business_endpoint.send_text(alice.e164, "hi")
    assert texts(alice) == ["hi"]
    for text in ["m1", "m2", "m3", "m4"]:
        alice.send_text(business_endpoint.e164, text)
    queued, _ = business_endpoint.relay.fetch()
    envelopes = [e for e in queued if e["receipt"] is None]  # not the receipt for "hi"
    order = [3, 0, 2, 1]
    got = [business_endpoint.process_envelope(envelopes[i]).body for i in order]
    for envelope in queued:
        business_endpoint.relay.ack(envelope["guid"])
    assert got == ["m4", "m1", "m3", "m2"]
    assert business_endpoint.state.get_health().decryption_failures == 0


def test_delivery_and_read_receipts_reach_the_sender(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    alice = make_handset()
    (guid,) = alice.send_text(business_endpoint.e164, "is it in stock?")
    assert statuses(alice) == [("is it in stock?", "sent")]
    (message,) = business_endpoint.receive()  # acking sends the delivery receipt
    assert message.guid == guid
    receipts = alice.receive()
    assert [(r.kind, r.receipt_kind, r.receipt_guid) for r in receipts] == [
        ("receipt", "delivery", guid)
    ]
    assert statuses(alice) == [("is it in stock?", "delivered")]
    business_endpoint.mark_read(message)
    assert [r.receipt_kind for r in alice.receive()] == ["read"]
    assert statuses(alice) == [("is it in stock?", "read")]


def test_undelivered_messages_expire_after_30_days_and_the_sender_is_told(
    make_handset: Callable[..., SignalClient],
    business_endpoint: SignalClient,
    frozen_clock: clock.FrozenClock,
) -> None:
    alice = make_handset()
    (guid,) = business_endpoint.send_text(alice.e164, "your code is 1234")
    # The envelope was queued by the server at wall-clock time; 31 days later it expires.
    frozen_clock.set(dt.datetime.now(dt.UTC) + dt.timedelta(days=29))
    assert do_expire_envelopes() == 0
    frozen_clock.set(dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    assert do_expire_envelopes() == 1
    receipts = business_endpoint.receive()
    assert [(r.receipt_kind, r.receipt_guid) for r in receipts] == [("expired", guid)]
    assert statuses(business_endpoint) == [("your code is 1234", "expired")]
    assert alice.receive() == []


def test_reinstalled_handset_shows_a_key_change_and_a_new_safety_number(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    alice = make_handset()
    alice.send_text(business_endpoint.e164, "hi")
    assert texts(business_endpoint) == ["hi"]
    before = business_endpoint.safety_number(alice.e164)
    assert before.display == alice.safety_number(business_endpoint.e164).display
    assert business_endpoint.identity_changes() == []

    reinstalled = make_handset(alice.e164, replace=True)  # new identity, re-registered
    # The business still holds the old session: the relay answers 410 (stale device), the
    # client fetches the new bundle and records the key change.
    business_endpoint.send_text(alice.e164, "welcome back")
    assert texts(reinstalled) == ["welcome back"]
    (change,) = business_endpoint.identity_changes()
    assert change.address == ProtocolAddress(alice.e164, 1)
    assert change.new_key == reinstalled.state.get_identity_key_pair().public_key
    after = business_endpoint.safety_number(alice.e164)
    assert after.display != before.display
    assert after.display == reinstalled.safety_number(business_endpoint.e164).display
    assert len(after.display) == 60


def test_peer_that_reinstalls_and_writes_first_triggers_the_notice(
    make_handset: Callable[..., SignalClient],
) -> None:
    alice, bob = make_handset(), make_handset()
    alice.send_text(bob.e164, "hey")
    assert texts(bob) == ["hey"]
    old = bob.safety_number(alice.e164).display
    new_alice = make_handset(alice.e164, replace=True)
    new_alice.send_text(bob.e164, "new phone")
    received = bob.receive()
    assert [(r.body, r.identity_changed) for r in received] == [("new phone", True)]
    assert len(bob.identity_changes()) == 1
    assert bob.safety_number(alice.e164).display != old


def test_backup_restore_on_a_new_device_then_continue(
    make_handset: Callable[..., SignalClient],
    business_endpoint: SignalClient,
    asgi_server: str,
) -> None:
    alice = make_handset()
    alice.send_text(business_endpoint.e164, "first")
    assert texts(business_endpoint) == ["first"]
    business_endpoint.send_text(alice.e164, "second")
    assert texts(alice) == ["second"]
    key = generate_recovery_key()
    blob = alice.export_backup(recovery_key=key)
    assert b"first" not in blob and b"second" not in blob

    # The phone is lost; a new phone restores the backup and re-registers.
    device = do_restore_device(alice.e164, blob, recovery_key=key)
    restored = client_for(device, asgi_server)
    result = restored.register()
    assert result["identity_changed"] is False
    assert [(m.direction, m.body) for m in restored.state.list_messages()] == [
        ("out", "first"),
        ("in", "second"),
    ]
    business_endpoint.send_text(alice.e164, "third")
    assert texts(restored) == ["third"]
    restored.send_text(business_endpoint.e164, "fourth")
    assert texts(business_endpoint) == ["fourth"]
    assert business_endpoint.identity_changes() == []
