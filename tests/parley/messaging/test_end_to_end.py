"""The business endpoint as a service, live: uvicorn (the relay), a Celery worker (the
endpoint), a customer's handset driven by the Signal client in this test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from billing.models import MessageFactRecord
from e2ee.actions import client_for, do_create_device
from e2ee.client import SignalClient
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core.models import StreamEntry
from parley.messaging.actions import do_enable_endpoint, do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.e2ee.conftest import new_handset_number
from tests.parley.relay.scan import find_plaintext

pytestmark = pytest.mark.django_db(transaction=True)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll an asynchronous outcome until it holds (or fail after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def test_a_text_travels_the_whole_lifecycle_and_the_reply_arrives_decrypted(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    admin = factory.staff(number.business, "administrator")
    token = do_create_api_token(admin, name="endpoint").secret
    endpoint_client = client_for(do_create_device(number.e164, business_number=True), asgi_server)
    endpoint_client.register(kind="business", token=token)
    do_enable_endpoint(number)
    alice: SignalClient = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    marker = "ORDER-" + os.urandom(6).hex()
    reply = "THANKS-" + os.urandom(6).hex()

    message = do_send_message(number, alice.e164, Text(f"{marker} shipped"))
    assert message.status == "accepted"
    eventually(lambda: status_of(message) == "sent", "sent")

    received = eventually(lambda: [r for r in alice.receive() if r.kind == "text"], "the text")
    assert [r.body for r in received] == [f"{marker} shipped"]  # acked: a delivery receipt
    eventually(lambda: status_of(message) == "delivered", "delivered")
    fact = eventually(
        lambda: MessageFactRecord.objects.filter(message_id=message.wamid).first(), "billing fact"
    )
    assert (fact.direction, fact.content, fact.customer) == ("A2P", "text", alice.e164)
    assert fact.delivered_at == message.delivered_at

    alice.mark_read(received[0])
    eventually(lambda: status_of(message) == "read", "read")
    statuses = [
        e.payload["status"]
        for e in StreamEntry.objects.filter(name="message.status_changed").order_by("id")
        if e.payload["message_id"] == message.wamid
    ]
    assert statuses == ["accepted", "sent", "delivered", "read"]

    alice.send_text(number.e164, reply)
    inbound = eventually(
        lambda: Message.objects.filter(direction="inbound", conversation__number=number).first(),
        "the reply",
    )
    assert inbound.content == {"type": "text", "body": reply, "preview_url": False,
                               "suggestions": []}  # fmt: skip
    assert inbound.conversation_id == message.conversation_id
    event = eventually(
        lambda: StreamEntry.objects.filter(name="message.received").first(), "message.received"
    )
    assert event.business_id == number.business_id
    assert event.payload["text"] == reply and event.payload["customer"] == alice.e164
    assert "administrator" not in event.audience and "compliance" not in event.audience

    for plaintext in (marker, reply):
        assert find_plaintext(plaintext.encode()) == []


def test_the_sweep_pulls_what_no_nudge_announced(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    from parley.messaging.tasks import sweep_inboxes

    admin = factory.staff(number.business, "administrator")
    token = do_create_api_token(admin, name="endpoint").secret
    client_for(do_create_device(number.e164, business_number=True), asgi_server).register(
        kind="business", token=token
    )
    do_enable_endpoint(number, active=False)  # not served: the relay's nudge is ignored
    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    alice.send_text(number.e164, "anyone there?")
    assert not Message.objects.exists()
    do_enable_endpoint(number)
    assert sweep_inboxes() == 1  # in this process, through the relay's API in-process
    (message,) = Message.objects.all()
    assert (message.direction, message.content["body"]) == ("inbound", "anyone there?")
    assert sweep_inboxes() == 0
