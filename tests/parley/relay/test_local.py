"""The relay's in-process entry (what Parley's business endpoints call): the same answers as
the HTTP API for the same calls, errors included — the same authentication of the device,
the same parsing and validation of the body, the same handlers — and nothing served that it
does not know (those calls go through the whole HTTP handler)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from parley.relay import local
from parley.relay.models import Envelope
from tests.parley.relay.conftest import Handset, b64

pytestmark = pytest.mark.django_db

BATCH = "/relay/v1/messages/batch"


def part(to: str, content: bytes, *, devices: tuple[int, ...] = (1,)) -> dict[str, Any]:
    return {
        "destination": to,
        "timestamp": 1_772_000_000_000,
        "messages": [
            {"type": 1, "destination_device_id": d, "content": b64(content)} for d in devices
        ],
    }


def over_http(h: Handset, method: str, path: str, body: Any = None, *, auth: str | None = None
              ) -> tuple[int, Any]:  # fmt: skip
    data = json.dumps(body) if body is not None else None
    response = getattr(h.client, method.lower())(
        path,
        data=data,
        content_type="application/json",
        HTTP_AUTHORIZATION=h.auth if auth is None else auth,
    )
    return response.status_code, (response.json() if response.content else None)


def in_process(h: Handset, method: str, path: str, body: Any = None, *, auth: str | None = None
               ) -> tuple[int, Any]:  # fmt: skip
    try:
        answered = local.answer(method, path, body, h.auth if auth is None else auth)
    except local.RelayAnswer as exc:
        return exc.status, exc.body
    assert answered is not None, f"{method} {path} is not served in-process"
    return answered


def same(a: tuple[int, Any], b: tuple[int, Any]) -> None:
    """Equal answers, but for what is new on every call (trace ids, envelope guids)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k not in ("fbtrace_id", "guid")}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    assert a[0] == b[0], (a, b)
    assert plain(a[1]) == plain(json.loads(json.dumps(b[1]))), (a, b)


def test_a_batch_answers_as_over_http_each_refusal_in_place(handset: Any) -> None:
    alice, bob, carol = handset(), handset(), handset()
    batch = {"batch": [
        part(bob.number, b"\x01" * 20),
        part("+919899999998", b"\x02" * 20),  # no such account
        part(carol.number, b"\x03" * 20, devices=(1, 2)),  # carol has one device
        part("not-a-number", b"\x04" * 20),
    ]}  # fmt: skip
    http = over_http(alice, "PUT", BATCH, batch)
    mine = in_process(alice, "PUT", BATCH, batch)
    same(http, mine)
    assert [r["status"] for r in mine[1]["results"]] == [200, 404, 409, 400]
    # Both queued bob's ciphertext, nothing else.
    fetched = bob.fetch()
    assert [base64.b64decode(e["content"]) for e in fetched] == [b"\x01" * 20] * 2
    assert {e["guid"] for e in fetched} == {
        http[1]["results"][0]["messages"][0]["guid"],
        mine[1]["results"][0]["messages"][0]["guid"],
    }


def test_fetch_acks_and_receipts_answer_as_over_http(handset: Any) -> None:
    alice, bob = handset(), handset()
    for i in range(3):
        assert alice.send(bob, bytes([i + 1]) * 20).status_code == 200
    same(over_http(bob, "GET", "/relay/v1/messages"), in_process(bob, "GET", "/relay/v1/messages"))
    first, second, third = (e["guid"] for e in bob.fetch())
    same(
        over_http(bob, "POST", "/relay/v1/messages/acks", {"guids": [first]}),
        in_process(bob, "POST", "/relay/v1/messages/acks", {"guids": [second]}),
    )
    assert in_process(bob, "DELETE", f"/relay/v1/messages/{third}") == (204, None)
    # Acknowledged: gone, and the senders got their delivery receipts.
    assert not bob.fetch()
    receipts = alice.fetch()
    assert sorted(e["receipt"]["guid"] for e in receipts) == sorted([first, second, third])
    assert {e["receipt"]["kind"] for e in receipts} == {"delivery"}
    # No body is a read receipt, as over HTTP; "typing" an indicator.
    same(
        over_http(bob, "POST", f"/relay/v1/receipts/{first}"),
        in_process(bob, "POST", f"/relay/v1/receipts/{second}"),
    )
    assert in_process(bob, "POST", f"/relay/v1/receipts/{third}", {"kind": "typing"}) == (
        200,
        {"success": True},
    )
    kinds = sorted(e["receipt"]["kind"] for e in alice.fetch()[3:])
    assert kinds == ["read", "read", "typing"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/relay/v1/messages/0b6f3c1e-6a55-4c1f-9a57-3f1d2c8e4a01", None),  # not queued
        ("POST", "/relay/v1/messages/acks", {"guids": ["nope"]}),
        ("POST", "/relay/v1/messages/acks", {"guids": []}),
        ("POST", "/relay/v1/messages/acks", ["a list"]),
        ("PUT", BATCH, {"batch": []}),
        ("PUT", BATCH, {"batch": [{"destination": "+919899999998"}]}),
        ("PUT", BATCH, {"batch": [part("+919899999998", b"")]}),
        ("PUT", "/relay/v1/messages/+919899999998", part("x", b"\x01")),  # no such account
        (
            "POST",
            "/relay/v1/receipts/5d2a9e70-1b3c-4f8e-a6d4-7c9b0e2f1a35",
            {"kind": "read"},
        ),  # never received
        ("POST", "/relay/v1/receipts/not-a-guid", {}),
        ("POST", "/relay/v1/receipts/5d2a9e70-1b3c-4f8e-a6d4-7c9b0e2f1a35", {"kind": "seen"}),
        ("POST", "/relay/v1/messages/acks", {"guids": [str(uuid.uuid4())], "x": 2**70}),
    ],
)
def test_refusals_answer_as_over_http(handset: Any, method: str, path: str, body: Any) -> None:
    alice = handset()
    http, mine = over_http(alice, method, path, body), in_process(alice, method, path, body)
    same(http, mine)
    refused = mine[1] if mine[0] >= 400 else mine[1]["results"][0]  # a batch's item
    assert set(refused) >= {"error"}


@pytest.mark.parametrize("auth", ["", "Basic bm9wZQ==", "Bearer +919812345678.1:" + "x" * 30])
def test_the_device_is_authenticated_on_every_call(handset: Any, auth: str) -> None:
    alice, bob = handset(), handset()
    batch = {"batch": [part(bob.number, b"\x01" * 20)]}
    http = over_http(alice, "PUT", BATCH, batch, auth=auth)
    mine = in_process(alice, "PUT", BATCH, batch, auth=auth)
    same(http, mine)
    assert mine[0] == 401
    assert not Envelope.objects.exists()


def test_other_calls_are_left_to_the_http_handler(handset: Any) -> None:
    alice = handset()
    for method, path in [
        ("GET", "/relay/v1/keys/count"),
        ("GET", f"/relay/v1/keys/{alice.number}/*"),
        ("POST", "/relay/v1/accounts"),
        ("GET", "/relay/v1/messages?limit=1"),
        ("PUT", "/relay/v1/messages"),  # a method the path does not serve
        ("GET", "/relay/v1/nowhere"),
        ("GET", "/v23.0/1/messages"),
    ]:
        assert local.answer(method, path, None, alice.auth) is None, path


def test_an_ack_tells_the_sender_and_the_stream_even_when_the_senders_device_is_gone(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    from parley.core.events import EnvelopeDelivered, EnvelopeQueued
    from parley.relay.models import DeliveryRecord, Device

    alice, bob = handset(), handset()
    for i in range(2):
        assert alice.send(bob, bytes([i + 1]) * 20).status_code == 200
    first, second = (e["guid"] for e in bob.fetch())
    with django_capture_on_commit_callbacks(execute=True):
        assert in_process(bob, "DELETE", f"/relay/v1/messages/{first}") == (204, None)
    (receipt,) = alice.fetch()
    assert receipt["receipt"] == {**receipt["receipt"], "kind": "delivery", "guid": first}
    queued = [e for e in events if isinstance(e, EnvelopeQueued)]
    delivered = [e for e in events if isinstance(e, EnvelopeDelivered)]
    assert [(e.guid, e.recipient_e164, e.sender_e164) for e in queued] == [
        (receipt["guid"], alice.number, bob.number)
    ]
    assert [(e.guid, e.kind, e.sender_e164, e.recipient_e164) for e in delivered] == [
        (first, "delivery", alice.number, bob.number)
    ]
    # The sender's device is gone: no receipt to queue, the delivery is still recorded.
    Device.objects.filter(account__e164=alice.number).delete()
    events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert in_process(bob, "POST", "/relay/v1/messages/acks", {"guids": [second]}) == (
            200,
            {"acknowledged": 1},
        )
    assert DeliveryRecord.objects.get(guid=second).delivered_at is not None
    assert [type(e).__name__ for e in events] == ["EnvelopeDelivered"]
    assert events[0].sender_e164 == alice.number and events[0].guid == second


def test_a_client_authenticates_its_device_once_and_never_remembers_a_refusal(
    handset: Any,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = handset()
    known: dict[str, Any] = {}
    assert local.answer("GET", "/relay/v1/messages", None, alice.auth, known=known)
    assert [(d.account.e164, d.device_id) for d in known.values()] == [(alice.number, 1)]
    with CaptureQueriesContext(connection) as queries:
        answered = local.answer("GET", "/relay/v1/messages", None, alice.auth, known=known)
    assert answered is not None and answered[0] == 200
    assert not [q for q in queries.captured_queries if '"credential_digest" = ' in q["sql"]]
    # Another client (another turn) authenticates again; a wrong credential stays refused.
    with CaptureQueriesContext(connection) as queries:
        local.answer("GET", "/relay/v1/messages", None, alice.auth, known={})
    assert [q for q in queries.captured_queries if '"credential_digest" = ' in q["sql"]]
    wrong = "Basic " + base64.b64encode(f"{alice.number}.1:wrong".encode()).decode()
    for _ in range(2):
        with pytest.raises(local.RelayAnswer) as refused:
            local.answer("GET", "/relay/v1/messages", None, wrong, known=known)
        assert refused.value.status == 401
    assert list(known) == [alice.auth]
