"""Batches: several recipients' messages in one request, several acks in one request. Each
item fares as it would alone; a refused item queues nothing and does not stop the others."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from parley.relay.models import DeliveryRecord, Envelope
from tests.parley.relay.conftest import b64, error

pytestmark = pytest.mark.django_db


def part(
    to: Any, content: bytes, *, timestamp: int = 1_772_000_000_000, devices: tuple[int, ...] = (1,)
) -> dict[str, Any]:
    number = to if isinstance(to, str) else to.number
    return {
        "destination": number,
        "timestamp": timestamp,
        "messages": [
            {"type": 1, "destination_device_id": d, "content": b64(content)} for d in devices
        ],
    }


def test_a_batch_queues_each_recipient_and_reports_each_refusal_in_place(handset: Any) -> None:
    alice, bob, carol = handset(), handset(), handset()
    response = alice.call(
        "put",
        "/relay/v1/messages/batch",
        {"batch": [
            part(bob, b"\x01" * 20, timestamp=11),
            part("+919899999998", b"\x02" * 20),  # no such account
            part(carol, b"\x03" * 20, devices=(1, 2)),  # carol has one device
            part("not-a-number", b"\x04" * 20),
            part(carol, b"\x05" * 20, timestamp=12),
        ]},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [200, 404, 409, 400, 200]
    assert [r["destination"] for r in results][:3] == [bob.number, "+919899999998", carol.number]
    assert results[1]["error"]["error_subcode"] == 33
    assert results[2]["error"]["error_data"] == {"missing_devices": [], "extra_devices": [2]}
    assert "phone number" in results[3]["error"]["message"]
    # Only the accepted items were queued, each with its own timestamp.
    (to_bob,) = bob.fetch()
    assert to_bob["guid"] == results[0]["messages"][0]["guid"]
    assert base64.b64decode(to_bob["content"]) == b"\x01" * 20
    assert to_bob["client_timestamp"] == 11
    (to_carol,) = carol.fetch()
    assert base64.b64decode(to_carol["content"]) == b"\x05" * 20
    assert to_carol["client_timestamp"] == 12
    assert Envelope.objects.count() == 2 and DeliveryRecord.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"batch": []}, "batch"),
        ({"batch": "x"}, "batch"),
        ({"batch": [{"destination": "+919812345678", "messages": []}]}, "timestamp"),
        ({"batch": [{"destination": "+919812345678", "timestamp": 1,
                     "messages": [{"type": 1, "destination_device_id": 1, "content": "%%"}]}]},
         "base64"),
        ({"batch": [part("+919812345678", b"x")] * 101}, "batch"),
    ],
)  # fmt: skip
def test_a_malformed_batch_is_refused_whole_and_writes_nothing(
    handset: Any, body: dict[str, Any], fragment: str
) -> None:
    alice = handset()
    response = alice.call("put", "/relay/v1/messages/batch", body)
    assert response.status_code == 400, response.content
    assert fragment in error(response)["message"]
    assert not Envelope.objects.exists() and not DeliveryRecord.objects.exists()


def test_a_batch_needs_a_device_credential(client: Any, handset: Any) -> None:
    bob = handset()
    response = client.put(
        "/relay/v1/messages/batch", data={"batch": [part(bob, b"x")]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 401
    assert not Envelope.objects.exists()


def test_acks_in_one_request_send_each_delivery_receipt_once(handset: Any) -> None:
    alice, bob, eve = handset(), handset(), handset()
    guids = [alice.send(bob, bytes([i]) * 8).json()["messages"][0]["guid"] for i in range(3)]
    stranger = str(uuid.uuid4())
    # Eve cannot acknowledge Bob's envelopes: they count as not hers, and stay queued.
    assert eve.call("post", "/relay/v1/messages/acks", {"guids": guids}).json() == {
        "acknowledged": 0
    }
    assert len(bob.fetch()) == 3
    acked = bob.call("post", "/relay/v1/messages/acks", {"guids": [*guids, guids[0], stranger]})
    assert acked.status_code == 200, acked.content
    assert acked.json() == {"acknowledged": 3}
    assert bob.fetch() == []
    receipts = alice.fetch()
    assert sorted(r["receipt"]["guid"] for r in receipts) == sorted(guids)
    assert {r["receipt"]["kind"] for r in receipts} == {"delivery"}
    # Again: nothing left to acknowledge, no second receipt.
    again = bob.call("post", "/relay/v1/messages/acks", {"guids": guids})
    assert again.json() == {"acknowledged": 0}
    assert len(alice.fetch()) == 3
    bad = bob.call("post", "/relay/v1/messages/acks", {"guids": ["nope"]})
    assert bad.status_code == 400
    assert "guids" in error(bad)["message"]
