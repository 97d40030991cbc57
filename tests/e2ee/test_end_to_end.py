"""Handsets and a business number exchanging Signal messages through the real relay
(uvicorn subprocess, real database, real Redis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from e2ee.client import SignalClient
from e2ee.handsets.models import HandsetMessage
from e2ee.models import Session
from parley.messaging.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def texts(client: SignalClient) -> list[str]:
    return [r.body for r in client.receive() if r.kind == "text"]


def test_handset_and_business_talk_both_ways_over_pqxdh(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    alice = make_handset()
    alice.send_text(business_endpoint.e164, "where is my order?")
    received = business_endpoint.receive()
    assert [(r.kind, r.sender, r.body) for r in received] == [
        ("text", alice.e164, "where is my order?")
    ]
    assert received[0].raw["type"] == 3  # the first message carries the handshake
    # PQXDH: the session is version 4 (Kyber pre-key used).
    record = business_endpoint.state.load_session(alice_address := _addr(alice))
    assert record is not None and record.current is not None and record.current.version == 4
    assert alice_address.name == alice.e164

    business_endpoint.send_text(alice.e164, "dispatched, tracking AB123")
    assert texts(alice) == ["dispatched, tracking AB123"]
    alice.send_text(business_endpoint.e164, "thanks")
    assert texts(business_endpoint) == ["thanks"]
    # The business side's history (tenant plaintext) is messaging's, not the device's.
    history = Message.objects.filter(conversation__number__e164=business_endpoint.e164)
    assert [(m.direction, m.preview) for m in history] == [
        ("inbound", "where is my order?"),
        ("outbound", "dispatched, tracking AB123"),
        ("inbound", "thanks"),
    ]
    assert not HandsetMessage.objects.filter(device__e164=business_endpoint.e164).exists()
    # The customer's side is her phone's own history (the handsets app's), both directions.
    phone = HandsetMessage.objects.filter(device__e164=alice.e164)
    assert [(m.direction, m.peer, m.body) for m in phone] == [
        ("out", business_endpoint.e164, "where is my order?"),
        ("in", business_endpoint.e164, "dispatched, tracking AB123"),
        ("out", business_endpoint.e164, "thanks"),
    ]
    assert Session.objects.filter(device__e164=alice.e164).count() == 1


def test_handset_to_handset(make_handset: Callable[..., SignalClient]) -> None:
    alice, bob = make_handset(), make_handset()
    alice.send_text(bob.e164, "hi bob")
    assert texts(bob) == ["hi bob"]
    bob.send_text(alice.e164, "hi alice")
    assert texts(alice) == ["hi alice"]
    assert alice.safety_number(bob.e164).display == bob.safety_number(alice.e164).display


def _addr(client: SignalClient) -> Any:
    from e2ee.protocol import ProtocolAddress

    return ProtocolAddress(client.e164, 1)
