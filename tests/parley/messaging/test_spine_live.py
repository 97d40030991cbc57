"""The spine on the real stack: uvicorn (the relay and the API), a Celery worker (the
business endpoint, the stream's consumers, the clock's catch-up) and the handset fleet, each
its own process. The business sends through the messaging actions or the command, customers
are fleet handsets driven through the fleet's control API, and time moves on the shared
simulation clock as a user would move it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from typing import Any

import pytest
import requests

from billing.models import MessageFactRecord
from e2ee.actions import client_for, do_create_device
from e2ee.handsets.control import FleetControl
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.models import StreamEntry
from parley.messaging.actions import do_enable_endpoint, do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Conversation, Message
from parley.messaging.models import Envelope as MessageEnvelope
from parley.messaging.selectors import is_window_open
from parley.relay.models import DeliveryRecord, Envelope
from tests.conftest import ROOT
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.handsets.conftest import handset_fleet, wait_for  # noqa: F401
from tests.parley.relay.scan import find_plaintext
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)


def serve(number: PhoneNumber, factory: Any, relay: str) -> None:
    """Register the business number's Signal device and run its endpoint in the workers."""
    admin = factory.staff(number.business, "administrator")
    token = do_create_api_token(admin, name="endpoint").secret
    client_for(do_create_device(number.e164, business_number=True), relay).register(
        kind="business", token=token
    )
    do_enable_endpoint(number)


def status_of(message: Message) -> str:
    message.refresh_from_db()
    return message.status


def status_events(wamid: str) -> list[str]:
    return [
        e.payload["status"]
        for e in StreamEntry.objects.filter(name="message.status_changed").order_by("id")
        if e.payload["message_id"] == wamid
    ]


def shared_now() -> dt.datetime:
    """The installation's simulated time (this process keeps a clock of its own)."""
    return clock.read_state().at(clock.real_now())


def manage(live_env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=live_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_text_to_an_online_fleet_handset_is_read_billed_and_answered(
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
) -> None:
    serve(number, factory, asgi_server)
    customer = new_handset_number()
    handset_fleet.create(customer)  # no read delay: it reads when the test opens it
    wait_for(lambda: handset_fleet.get(customer)["connected"], what="the handset's websocket")
    marker = "ORDER-" + os.urandom(6).hex()
    reply = "THANKS-" + os.urandom(6).hex()

    customer_wrote(number, customer)  # the service window is open
    message = do_send_message(number, customer, Text(f"{marker} shipped"))
    assert message.status == "accepted"
    # The online handset decrypts and acknowledges at once: delivered without anyone polling.
    wait_for(lambda: status_of(message) == "delivered", what="delivered")
    fact = wait_for(
        lambda: MessageFactRecord.objects.filter(message_id=message.wamid).first(),
        what="billing's fact",
    )
    assert (fact.direction, fact.content, fact.customer) == ("A2P", "text", customer)
    assert fact.delivered_at == message.delivered_at
    assert message.read_at is None

    inbox = handset_fleet.inbox(customer, read=True)  # the customer opens the chat
    assert [(i["sender"], i["body"]) for i in inbox] == [(number.e164, f"{marker} shipped")]
    wait_for(lambda: status_of(message) == "read", what="read")
    assert status_events(message.wamid) == ["accepted", "sent", "delivered", "read"]
    stamps = [message.accepted_at, message.sent_at, message.delivered_at, message.read_at]
    assert all(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]

    handset_fleet.send_text(customer, number.e164, reply, reply_to=message.wamid)
    inbound = wait_for(
        lambda: Message.objects.filter(direction="inbound", content__body=reply).first(),
        what="the reply",
    )
    assert inbound.content["body"] == reply
    assert inbound.reply_to == message.wamid  # the customer quoted the business's message
    assert inbound.conversation_id == message.conversation_id
    assert inbound.business_id == number.business_id
    received = wait_for(
        lambda: StreamEntry.objects.filter(name="message.received", payload__text=reply).first(),
        what="the event",
    )
    assert received.business_id == number.business_id
    assert (received.payload["text"], received.payload["customer"]) == (reply, customer)
    assert received.payload["message_id"] == inbound.wamid

    for plaintext in (marker, reply):
        assert find_plaintext(plaintext.encode()) == []


def test_advancing_31_days_expires_a_message_queued_for_an_offline_handset(
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    live_env: dict[str, str],
    number: PhoneNumber,
    factory: Any,
    shared_clock: None,
) -> None:
    serve(number, factory, asgi_server)
    customer = new_handset_number()
    handset_fleet.create(customer, online=False)
    customer_wrote(number, customer)  # before going offline: the service window is open
    marker = "KETTLE-" + os.urandom(6).hex()

    wamid = manage(live_env, "send_message", number.business.slug, number.e164, customer,
                   f"{marker} back in stock").strip()  # fmt: skip
    message = Message.objects.get(wamid=wamid)
    wait_for(lambda: status_of(message) == "sent", what="sent")
    guid = MessageEnvelope.objects.get(message=message).guid
    assert Envelope.objects.filter(guid=guid).exists()  # queued at the relay
    assert DeliveryRecord.objects.filter(guid=guid).exists()

    assert "Due jobs queued for a worker." in manage(live_env, "clock", "advance", "31d")
    wait_for(lambda: status_of(message) == "expired", what="expired")
    wait_for(lambda: not DeliveryRecord.objects.filter(guid=guid).exists(), what="the purge")
    assert not Envelope.objects.filter(guid=guid).exists()
    assert status_events(wamid) == ["accepted", "sent", "expired"]
    assert message.delivered_at is None and message.expired_at is not None
    assert not MessageFactRecord.objects.filter(message_id=wamid).exists()  # never billed
    assert not StreamEntry.objects.filter(
        name="message.delivery_recorded", payload__message_id=wamid
    ).exists()

    # Back online a month later, the customer finds nothing: it expired at the relay.
    assert handset_fleet.set_online(customer, True)["connected"] is True
    assert [i for i in handset_fleet.inbox(customer) if i["kind"] == "text"] == []
    assert status_of(message) == "expired"
    assert find_plaintext(marker.encode()) == []


def test_advancing_25_hours_closes_the_service_window(
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
    shared_clock: None,
) -> None:
    serve(number, factory, asgi_server)
    customer = new_handset_number()
    handset_fleet.create(customer)
    wait_for(lambda: handset_fleet.get(customer)["connected"], what="the handset's websocket")
    handset_fleet.send_text(customer, number.e164, "is the shop open on Sunday?")
    conversation = wait_for(
        lambda: (
            Conversation.objects.filter(number=number, customer=customer)
            .exclude(window_expires_at=None)
            .first()
        ),
        what="the customer's message",
    )
    assert is_window_open(conversation, shared_now())
    assert not StreamEntry.objects.filter(name="conversation.window_closed").exists()

    developer = factory.staff(number.business, "developer")
    token = do_create_api_token(developer, name="ops", scopes=["manage_clock"]).secret
    response = requests.post(
        f"{asgi_server}/parley/v1/clock/advance",
        json={"duration": "25h"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    # No beat runs here: the worker's catch-up after the move closes it.
    closed = wait_for(
        lambda: StreamEntry.objects.filter(name="conversation.window_closed").first(),
        what="conversation.window_closed",
    )
    assert closed.business_id == number.business_id
    assert (closed.payload["conversation_id"], closed.payload["customer"]) == (
        conversation.pk,
        customer,
    )
    conversation.refresh_from_db()
    assert conversation.window_closed_at == conversation.window_expires_at
    assert not is_window_open(conversation, shared_now())
    assert StreamEntry.objects.filter(name="conversation.window_closed").count() == 1
