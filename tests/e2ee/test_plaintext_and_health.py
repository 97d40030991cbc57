"""Known plaintext through the whole stack never reaches the relay's tables or Redis; the
health counters see a tampered envelope; only administrators read them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage

from e2ee.attachments import PREFIX
from e2ee.client import SignalClient
from parley.messaging.models import Message
from parley.relay.models import Envelope
from tests.e2ee.conftest import Tenant
from tests.parley.relay.scan import find_plaintext

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH = "/parley/v1/security/e2ee-health"


def test_no_plaintext_reaches_the_relay_or_redis(
    make_handset: Callable[..., SignalClient], business_endpoint: SignalClient
) -> None:
    marker = b"MARKER-" + os.urandom(12).hex().encode()
    text = marker.decode()
    alice = make_handset()
    alice.send_text(business_endpoint.e164, f"order 4411: {text}")
    # The business endpoint listens on the websocket (backlog + live push).
    got = business_endpoint.listen(until=lambda r: any(x.kind == "text" for x in r))
    assert [r.body for r in got if r.kind == "text"] == [f"order 4411: {text}"]

    business_endpoint.send_text(alice.e164, f"{text} tracking AB123")
    document = b"%PDF-1.4 invoice " + marker * 50 + os.urandom(3000)
    business_endpoint.send_media(
        alice.e164, document, file_name="invoice.pdf", mime_type="application/pdf",
        caption=f"invoice {text}",
    )  # fmt: skip
    unread = alice.send_text(business_endpoint.e164, text * 3)  # left queued on the relay
    assert unread

    received = alice.receive()
    bodies = [(r.kind, r.body) for r in received if r.kind in ("text", "media")]
    assert bodies == [("text", f"{text} tracking AB123"), ("media", f"invoice {text}")]
    media = next(r for r in received if r.kind == "media")
    assert media.attachment is not None
    assert alice.download(media.attachment) == document
    alice.mark_read(media)

    assert Envelope.objects.exists()  # ciphertext really is on the relay
    assert find_plaintext(marker) == []
    # The attachment store (the "CDN") holds only ciphertext too.
    with default_storage.open(PREFIX + media.attachment["id"], "rb") as blob:
        stored = blob.read()
    assert marker not in stored and len(stored) > len(document)
    # The business's own (tenant) history does hold it: the scan would see it if it leaked.
    history = Message.objects.filter(conversation__number__e164=business_endpoint.e164)
    assert any(text in m.preview for m in history)


def tamper(guid: str) -> None:
    envelope = Envelope.objects.get(guid=guid)
    content = bytearray(bytes(envelope.content))
    content[-3] ^= 0x01  # inside the SignalMessage's 8-byte MAC
    envelope.content = bytes(content)
    envelope.save(update_fields=["content"])


def test_health_counts_a_forced_decryption_failure(
    make_handset: Callable[..., SignalClient],
    business_endpoint: SignalClient,
    tenant: Tenant,
    console_client: Any,
    factory: Any,
) -> None:
    alice = make_handset()
    alice.send_text(business_endpoint.e164, "hello")
    assert [r.kind for r in business_endpoint.receive()] == ["text"]
    business_endpoint.send_text(alice.e164, "hi")  # after a reply alice sends plain whispers
    assert sorted(r.kind for r in alice.receive()) == ["receipt", "text"]
    (guid,) = alice.send_text(business_endpoint.e164, "this one gets corrupted")
    tamper(guid)
    alice.send_text(business_endpoint.e164, "this one is fine")
    kinds = [r.kind for r in business_endpoint.receive() if r.kind != "receipt"]
    assert kinds == ["undecryptable", "text"]

    response = console_client.as_(tenant.admin).get(HEALTH)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["key_agreements"]["attempted"] == 1
    assert body["key_agreements"]["failed"] == 0
    assert body["key_agreements"]["healthy"] is True
    assert body["decryption"]["attempted"] == 3
    assert body["decryption"]["failed"] == 1
    assert body["decryption"]["failure_rate"] == pytest.approx(1 / 3)
    assert body["decryption"]["healthy"] is False
    # Handset counters are not the business's.
    assert alice.state.get_health().key_agreements == 1


@pytest.mark.parametrize("role", ["supervisor", "agent", "developer", "compliance_officer"])
def test_health_is_for_administrators_only(
    tenant: Tenant, console_client: Any, factory: Any, role: str
) -> None:
    user = factory.staff(tenant.business, role)
    response = console_client.as_(user).get(HEALTH)
    assert response.status_code == 403
    assert set(response.json()) == {"error"}


def test_health_refuses_api_tokens_and_anonymous(tenant: Tenant, client: Any) -> None:
    response = client.get(HEALTH, HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    assert response.status_code == 403
    assert client.get(HEALTH).status_code in (401, 403)
