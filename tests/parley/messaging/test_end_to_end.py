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
from tests.parley.windows import customer_wrote

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


def register_endpoint(number: PhoneNumber, factory: Any, relay: str) -> SignalClient:
    """Register the business number's Signal device (the endpoint the workers run)."""
    admin = factory.staff(number.business, "administrator")
    token = do_create_api_token(admin, name="endpoint").secret
    client = client_for(do_create_device(number.e164, business_number=True), relay)
    client.register(kind="business", token=token)
    return client


def customer_who_wrote(number: PhoneNumber, relay: str) -> SignalClient:
    """A registered customer's phone whose customer wrote to the number (its window open)."""
    phone = client_for(do_create_device(new_handset_number()), relay)
    phone.register()
    customer_wrote(number, phone.e164)
    return phone


def test_a_text_travels_the_whole_lifecycle_and_the_reply_arrives_decrypted(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    register_endpoint(number, factory, asgi_server)
    do_enable_endpoint(number)
    alice: SignalClient = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    marker = "ORDER-" + os.urandom(6).hex()
    reply = "THANKS-" + os.urandom(6).hex()

    customer_wrote(number, alice.e164)  # the service window is open
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

    # A reply quoting the message by the envelope guid her phone knows it by.
    alice.send_reply(number.e164, reply, reply_to=received[0].guid)
    inbound = eventually(
        lambda: Message.objects.filter(direction="inbound", content__body=reply).first(),
        "the reply",
    )
    assert inbound.content == {"type": "text", "body": reply, "preview_url": False,
                               "suggestions": []}  # fmt: skip
    assert inbound.conversation_id == message.conversation_id
    assert inbound.reply_to == message.wamid
    event = eventually(
        lambda: StreamEntry.objects.filter(name="message.received", payload__text=reply).first(),
        "message.received",
    )
    assert event.business_id == number.business_id
    assert event.payload["text"] == reply and event.payload["customer"] == alice.e164
    assert event.payload["reply_to"] == message.wamid
    assert "administrator" not in event.audience and "compliance" not in event.audience

    for plaintext in (marker, reply):
        assert find_plaintext(plaintext.encode()) == []


def test_the_sweep_pulls_what_no_nudge_announced(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    from parley.messaging.tasks import sweep_inboxes

    register_endpoint(number, factory, asgi_server)
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


def test_waiting_messages_go_out_in_one_batch_and_a_refused_one_fails_alone(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    from parley.messaging import endpoint
    from parley.relay.models import DeliveryRecord

    register_endpoint(number, factory, asgi_server)
    customers = []
    for _ in range(3):
        handset = client_for(do_create_device(new_handset_number()), asgi_server)
        handset.register()
        customers.append(handset)
    stranger = new_handset_number()  # never registered with the relay
    for e164 in {c.e164 for c in customers} | {stranger}:
        customer_wrote(number, e164)
    waiting = [
        do_send_message(number, c.e164, Text(f"parcel {i}"), deliver=False)
        for i, c in enumerate([*customers, customers[0]])
    ]
    lost = do_send_message(number, stranger, Text("hello?"), deliver=False)

    assert endpoint.service(number.e164, receive=False) == (5, 0)
    statuses = {m.pk: status_of(m) for m in [*waiting, lost]}
    assert [statuses[m.pk] for m in waiting] == ["sent"] * 4
    lost.refresh_from_db()
    assert (lost.status, lost.error_code) == ("failed", 131026)
    # One batch: consecutive client timestamps, one per message (sender + timestamp name a
    # Signal message).
    stamps = sorted(DeliveryRecord.objects.values_list("client_timestamp", flat=True))
    assert stamps == [stamps[0] + i for i in range(4)]
    # Each customer decrypts its own, in order.
    assert [r.body for r in customers[0].receive()] == ["parcel 0", "parcel 3"]
    assert [r.body for r in customers[1].receive()] == ["parcel 1"]
    assert [r.body for r in customers[2].receive()] == ["parcel 2"]
    for customer in customers:
        customer.receive()
    assert endpoint.service(number.e164) == (0, 4)  # the four delivery receipts
    assert {status_of(m) for m in waiting} == {"delivered"}


@pytest.mark.parametrize("by_number", [False, True], ids=["by-message", "by-number"])
def test_a_task_for_a_message_already_sent_still_sends_what_waits(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any, by_number: bool
) -> None:
    """A task queued for message 1 may find it sent with an earlier batch; the request that
    queued it also stood for message 2, committed while it waited: message 2 goes out. The
    task names the number too (`by_number`): its endpoint goes to work without reading the
    message first."""
    from parley.messaging import endpoint

    register_endpoint(number, factory, asgi_server)
    alice = customer_who_wrote(number, asgi_server)
    first = do_send_message(number, alice.e164, Text("one"), deliver=False)
    assert endpoint.service(number.e164, receive=False) == (1, 0)
    second = do_send_message(number, alice.e164, Text("two"), deliver=False)
    assert endpoint.deliver(first.pk, e164=number.e164 if by_number else "") == "sent"
    assert status_of(second) == "sent"
    assert [r.body for r in alice.receive() if r.kind == "text"] == ["one", "two"]


def test_a_worker_sending_for_a_number_serves_the_receipts_requested_meanwhile(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    """A request for the number's endpoint leaves a note by the number: a worker in a send
    turn (it holds the endpoint) pulls the receipt at its next turn, while the pull task
    queued earlier still waits behind busy workers."""
    from parley.messaging import endpoint, work

    register_endpoint(number, factory, asgi_server)
    alice = customer_who_wrote(number, asgi_server)
    message = do_send_message(number, alice.e164, Text("one"), deliver=False)
    assert endpoint.service(number.e164, receive=False) == (1, 0)
    # A pull task is already queued (so the next request queues none) and waits.
    requested = work.key(f"requested:{work.RECEIVE}", number.e164)
    work.redis_client().set(requested, 1, ex=work.LOCK_SECONDS)
    assert [r.body for r in alice.receive() if r.kind == "text"] == ["one"]
    # Alice's acknowledgement queued a delivery receipt for the business's device; the
    # relay's listener asks for the endpoint (no second task: one is queued already).
    work.request_receive(number.e164)
    assert status_of(message) == "sent"
    assert endpoint.service(number.e164, receive=False) == (0, 1)
    assert status_of(message) == "delivered"
    assert not work.redis_client().exists(work.note(number.e164, work.RECEIVE))


def test_a_send_that_met_no_new_identity_asks_nothing_and_the_sweep_announces_a_leftover(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    """A turn asks about identity changes only when it met one; a notice a failed turn left
    unannounced is announced by the sweep (customer.identity_changed)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from e2ee.models import IdentityChangeNotice
    from parley.core import clock
    from parley.messaging import endpoint
    from parley.messaging.tasks import sweep_inboxes

    register_endpoint(number, factory, asgi_server)
    do_enable_endpoint(number)
    alice = customer_who_wrote(number, asgi_server)
    do_send_message(number, alice.e164, Text("one"), deliver=False)
    assert endpoint.service(number.e164, receive=False) == (1, 0)
    device = endpoint.business_device(number)
    assert device is not None
    leftover = IdentityChangeNotice.objects.create(
        device=device, name=alice.e164, peer_device_id=1, old_key=b"\x05" * 33,
        new_key=b"\x05" * 33, created_at=clock.now(),
    )  # fmt: skip

    do_send_message(number, alice.e164, Text("two"), deliver=False)
    with CaptureQueriesContext(connection) as queries:
        assert endpoint.service(number.e164, receive=False) == (1, 0)
    assert not [q for q in queries.captured_queries if "identitychangenotice" in q["sql"]]
    leftover.refresh_from_db()
    assert leftover.announced_at is None

    sweep_inboxes()
    leftover.refresh_from_db()
    assert leftover.announced_at is not None
    assert StreamEntry.objects.filter(
        name="customer.identity_changed", payload__customer=alice.e164
    ).exists()
