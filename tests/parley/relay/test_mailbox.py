"""The ciphertext mailbox: send, fetch, ack, receipts, device-list mismatches, bad input."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from parley.core.events import EnvelopeDelivered, EnvelopeQueued
from parley.relay.models import DeliveryRecord, Envelope
from tests.parley.relay.conftest import Handset, b64, error, register

pytestmark = pytest.mark.django_db


def test_send_fetch_ack_and_receipts_flow_back(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    with django_capture_on_commit_callbacks(execute=True):
        sent = alice.send(bob, b"\x11" * 64)
    assert sent.status_code == 200, sent.content
    (item,) = sent.json()["messages"]
    guid = item["guid"]
    queued = [e for e in events if isinstance(e, EnvelopeQueued)]
    assert [(e.guid, e.recipient_e164, e.size) for e in queued] == [(guid, bob.number, 64)]

    (envelope,) = bob.fetch()
    assert envelope["guid"] == guid
    assert envelope["source"] == alice.number and envelope["source_device_id"] == 1
    assert envelope["type"] == 1
    assert base64.b64decode(envelope["content"]) == b"\x11" * 64
    assert envelope["client_timestamp"] == 1_772_000_000_000
    assert envelope["expires_at"] - envelope["server_timestamp"] == 30 * 86_400_000
    assert alice.fetch() == []

    with django_capture_on_commit_callbacks(execute=True):
        assert bob.ack(guid).status_code == 204
    assert bob.fetch() == []
    assert bob.ack(guid).status_code == 404  # already gone
    (receipt,) = alice.fetch()
    assert receipt["type"] == 5 and receipt["content"] is None
    assert receipt["receipt"]["kind"] == "delivery" and receipt["receipt"]["guid"] == guid
    assert receipt["source"] == bob.number
    assert receipt["client_timestamp"] == 1_772_000_000_000
    assert alice.ack(receipt["guid"]).status_code == 204

    with django_capture_on_commit_callbacks(execute=True):
        read = bob.call("post", f"/relay/v1/receipts/{guid}", {"kind": "read"})
    assert read.status_code == 200
    assert bob.call("post", f"/relay/v1/receipts/{guid}", {}).status_code == 200  # idempotent
    (receipt,) = alice.fetch()
    assert receipt["receipt"]["kind"] == "read"
    delivered = [e for e in events if isinstance(e, EnvelopeDelivered)]
    assert [(e.guid, e.kind) for e in delivered] == [(guid, "delivery"), (guid, "read")]
    record = DeliveryRecord.objects.get(guid=guid)
    assert record.delivered_at is not None and record.read_at is not None
    # Only the recipient may report reading it.
    assert alice.call("post", f"/relay/v1/receipts/{guid}", {}).status_code == 404


def test_a_typing_indicator_reaches_the_sender_and_records_nothing(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    (item,) = alice.send(bob, b"\x11" * 32).json()["messages"]
    guid = item["guid"]
    bob.fetch()
    with django_capture_on_commit_callbacks(execute=True):
        typing = bob.call("post", f"/relay/v1/receipts/{guid}", {"kind": "typing"})
    assert typing.status_code == 200, typing.content
    (receipt,) = alice.fetch()
    assert receipt["type"] == 5 and receipt["content"] is None
    assert receipt["receipt"]["kind"] == "typing" and receipt["receipt"]["guid"] == guid
    assert receipt["source"] == bob.number
    # Not a read: the record is unchanged and no delivery event was published.
    assert DeliveryRecord.objects.get(guid=guid).read_at is None
    assert not [e for e in events if isinstance(e, EnvelopeDelivered)]
    # Only the message's recipient may indicate typing about it; unknown kinds are refused.
    assert alice.call("post", f"/relay/v1/receipts/{guid}", {"kind": "typing"}).status_code == 404
    bad = bob.call("post", f"/relay/v1/receipts/{guid}", {"kind": "writing"})
    assert bad.status_code == 400, bad.content
    assert alice.fetch() == [receipt]  # nothing more was queued


def test_multi_device_send_and_device_list_mismatch(client: Any, handset: Any) -> None:
    alice, bob = handset(), handset()
    bob2 = Handset(client, bob.number,
                   register(client, bob.number, device_id=2, auth=bob.auth,
                            registration_id=4321).json())  # fmt: skip
    missing = alice.send(bob, b"\1" * 10, devices=[1])
    assert missing.status_code == 409
    assert error(missing)["error_data"] == {"missing_devices": [2], "extra_devices": []}
    extra = alice.send(bob, b"\1" * 10, devices=[1, 2, 3])
    assert error(extra)["error_data"] == {"missing_devices": [], "extra_devices": [3]}
    assert not Envelope.objects.exists()
    stale = alice.call(
        "put",
        f"/relay/v1/messages/{bob.number}",
        {"timestamp": 1, "messages": [
            {"type": 3, "destination_device_id": 1, "destination_registration_id": 1234,
             "content": b64(b"a")},
            {"type": 3, "destination_device_id": 2, "destination_registration_id": 1,
             "content": b64(b"b")},
        ]},
    )  # fmt: skip
    assert stale.status_code == 410
    assert error(stale)["error_data"] == {"stale_devices": [2]}
    assert not Envelope.objects.exists()
    ok = alice.send(bob, b"\1" * 10, devices=[1, 2])
    assert ok.status_code == 200
    assert len(bob.fetch()) == 1 and len(bob2.fetch()) == 1
    # Writing to your own account: your other devices only.
    own = bob.send(bob, b"\2" * 10, devices=[2])
    assert own.status_code == 200
    assert bob.send(bob, b"\2" * 10, devices=[1, 2]).status_code == 409


@pytest.mark.parametrize(
    ("raw", "status", "fragment"),
    [
        ("{not json", 400, "JSON"),
        ('{"timestamp": 1, "messages": [{"type": 1, "destination_device_id": 1, '
         '"content": "%%%"}]}', 400, "base64"),
        ('{"timestamp": 1, "messages": []}', 400, "messages"),
        ('{"timestamp": 1, "messages": [{"type": 5, "destination_device_id": 1, '
         '"content": "AAAA"}]}', 400, "type"),
        ('{"timestamp": 1, "messages": [{"type": 1, "destination_device_id": 1, '
         '"content": ""}]}', 400, "empty"),
        ('{"timestamp": -5, "messages": [{"type": 1, "destination_device_id": 1, '
         '"content": "AAAA"}]}', 400, "timestamp"),
        ('"just a string"', 400, "JSON object"),
    ],
)  # fmt: skip
def test_bad_sends_are_refused_and_write_nothing(
    handset: Any, raw: str, status: int, fragment: str
) -> None:
    alice, bob = handset(), handset()
    response = alice.call("put", f"/relay/v1/messages/{bob.number}", raw=raw)
    assert response.status_code == status, response.content
    assert fragment in error(response)["message"]
    assert not Envelope.objects.exists() and not DeliveryRecord.objects.exists()


def test_oversize_ciphertext_is_refused(handset: Any) -> None:
    alice, bob = handset(), handset()
    assert alice.send(bob, b"\3" * (256 * 1024)).status_code == 200
    too_big = alice.send(bob, b"\3" * (256 * 1024 + 1))
    assert too_big.status_code == 400
    assert "larger than 262144 bytes" in error(too_big)["message"]
    way_too_big = alice.send(bob, b"\3" * (300 * 1024))
    assert way_too_big.status_code == 400
    assert Envelope.objects.count() == 1


def test_unknown_recipient_and_other_devices_guids(handset: Any) -> None:
    alice, bob, eve = handset(), handset(), handset()
    unknown = alice.send("+919899999998", b"\1" * 8)
    assert unknown.status_code == 404
    assert error(unknown)["error_subcode"] == 33
    assert alice.send("not-a-number", b"\1" * 8).status_code == 400
    guid = alice.send(bob, b"\1" * 8).json()["messages"][0]["guid"]
    # Eve cannot acknowledge (delete) or report reading Bob's envelope; it looks absent.
    assert eve.ack(guid).status_code == 404
    assert error(eve.ack(guid))["code"] == 100
    assert eve.call("post", f"/relay/v1/receipts/{guid}", {}).status_code == 404
    assert eve.ack(str(uuid.uuid4())).status_code == 404
    assert eve.call("post", "/relay/v1/receipts/zzz", {}).status_code == 404
    assert Envelope.objects.filter(guid=guid).exists()
    assert [e["guid"] for e in bob.fetch()] == [guid]


def test_fetch_pages_oldest_first(handset: Any, settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "RELAY_FETCH_PAGE": 3}
    alice, bob = handset(), handset()
    guids = [alice.send(bob, bytes([i]) * 8).json()["messages"][0]["guid"] for i in range(1, 6)]
    first = bob.call("get", "/relay/v1/messages").json()
    assert [m["guid"] for m in first["messages"]] == guids[:3] and first["more"] is True
    for guid in guids[:3]:
        bob.ack(guid)
    second = bob.call("get", "/relay/v1/messages").json()
    assert [m["guid"] for m in second["messages"]] == guids[3:] and second["more"] is False
