"""Metadata only: a known plaintext, encrypted on the client side, must never appear in any
relay table or anywhere in Redis, whatever travelled (HTTP, websocket push, receipts)."""

from __future__ import annotations

import os

import pytest
import redis
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from parley.relay.models import CarrierSms, Envelope, VerificationSession
from tests.parley.relay.live import LiveDevice, receive
from tests.parley.relay.scan import find_plaintext, relay_tables

pytestmark = pytest.mark.django_db(transaction=True)


def encrypt(key: bytes, plaintext: bytes) -> bytes:
    """Test-side stand-in for the Signal client: AES-256-GCM with a key the relay never sees."""
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, None)


def test_no_plaintext_in_any_relay_table_or_in_redis(asgi_server: str) -> None:
    marker = b"PLAINTEXT-MARKER-" + os.urandom(16).hex().encode()
    key = AESGCM.generate_key(bit_length=256)
    alice, bob = LiveDevice(asgi_server), LiveDevice(asgi_server)

    offline = alice.send(bob, encrypt(key, b"order 4411 dispatched " + marker))
    with bob.websocket() as ws:
        assert receive(ws)["type"] == "ready"
        assert receive(ws)["envelope"]["guid"] == offline
        assert receive(ws) == {"type": "queue_empty"}
        online = alice.send(bob, encrypt(key, marker + b" tracking AB123"))
        assert receive(ws)["envelope"]["guid"] == online
        ws.send(f'{{"type": "ack", "guid": "{offline}"}}')
        assert receive(ws)["type"] == "acked"
    unread = bob.send(alice, encrypt(key, b"thanks! " + marker * 3))

    assert Envelope.objects.count() >= 2  # ciphertext really is stored
    tables = set(relay_tables())
    assert {"relay_envelope", "relay_device", "relay_deliveryrecord"} <= tables
    # The registrations' verification sessions and texts are scanned as well.
    assert {"relay_verificationsession", "relay_carriersms"} <= tables
    assert VerificationSession.objects.count() == 2 and CarrierSms.objects.count() == 2
    assert find_plaintext(marker) == []
    assert unread


def test_the_scanner_finds_a_planted_marker(asgi_server: str) -> None:
    """The scanner itself works: raw, base64 and Redis plants are all found."""
    marker = os.urandom(24)
    alice, bob = LiveDevice(asgi_server), LiveDevice(asgi_server)
    alice.send(bob, b"xx" + marker)
    found = find_plaintext(marker)
    assert found == ["db:relay_envelope.content[row 0]"]
    Envelope.objects.update(content=b"")
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"{settings.NAMESPACE}:scanner-plant"
    try:
        import base64

        client.set(name, b"prefix" + base64.b64encode(b"a" + marker))
        assert find_plaintext(marker) == [f"redis:{name.encode()!r}"]
    finally:
        client.delete(name)
    assert find_plaintext(marker) == []
