"""The fault numbers on the real stack: uvicorn (relay and API), a Celery worker (the business
endpoint) and the handset fleet, which creates the fault numbers when it starts. Every
outcome is read on the business's side, where it arrives through the relay and the endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from e2ee.handsets import faults
from e2ee.handsets.control import FleetControl, FleetRefused
from e2ee.handsets.models import FleetHandset
from e2ee.models import LocalDevice
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.models import StreamEntry
from parley.messaging.actions import do_send_message
from parley.messaging.content import Template, Text
from parley.messaging.models import Conversation, Message
from parley.messaging.selectors import is_window_open
from parley.relay.models import RelayAccount
from tests.e2ee.handsets.conftest import fault_fleet, wait_for  # noqa: F401
from tests.parley.messaging.test_spine_live import manage, serve, shared_now, status_of
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    """A registered business number (served by the test through `serve`)."""
    return PhoneNumber.objects.create(
        business=factory.business("Shop", country="US"),
        e164="+14155550999",
        country="US",
        display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


def template() -> Template:
    return Template("order_update", "en_US", "utility", body="Your order has shipped.")


def failed_with(message: Message) -> tuple[str, int | None]:
    message.refresh_from_db()
    return message.status, message.error_code


def test_fault_numbers_as_a_business_sees_them(
    fault_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
) -> None:
    serve(number, factory, asgi_server)
    # Phones of the fleet, owned by no business; "not on WhatsApp" was never registered.
    running = {h["number"]: h for h in fault_fleet.list_handsets()}
    assert set(running) == set(faults.FLEET_NUMBERS)
    assert not FleetHandset.objects.filter(business__isnull=False).exists()
    assert not RelayAccount.objects.filter(e164=faults.NOT_ON_WHATSAPP).exists()
    assert RelayAccount.objects.get(e164=faults.BLOCKED_THE_BUSINESS).blocks_businesses
    with pytest.raises(FleetRefused) as refused:
        fault_fleet.create(faults.NOT_ON_WHATSAPP)
    assert refused.value.status == 400

    absent = do_send_message(number, faults.NOT_ON_WHATSAPP, template())
    blocked = do_send_message(number, faults.BLOCKED_THE_BUSINESS, template())
    unread = do_send_message(number, faults.NEVER_READS, template())
    answered = do_send_message(number, faults.REPLIES_AUTOMATICALLY, template())
    conversation = Conversation.objects.get(customer=faults.REPLIES_AUTOMATICALLY)
    assert not is_window_open(conversation, shared_now())

    wait_for(lambda: failed_with(absent) == ("failed", 131026), what="not on WhatsApp fails")
    wait_for(lambda: failed_with(blocked) == ("failed", 131026), what="the block fails it")
    # The blocker's refusal reads exactly like an unknown number's (Meta tells no more).
    assert blocked.error_title.startswith("Message undeliverable")
    assert blocked.delivered_at is None
    wait_for(lambda: status_of(unread) == "delivered", what="delivered to the never-reader")

    reply = wait_for(
        lambda: Message.objects.filter(
            direction="inbound", conversation__customer=faults.REPLIES_AUTOMATICALLY
        ).first(),
        what="the automatic reply",
    )
    assert reply.content["body"] == faults.AUTO_REPLY_TEXT
    assert reply.business_id == number.business_id
    received = wait_for(
        lambda: StreamEntry.objects.filter(
            name="message.received", payload__customer=faults.REPLIES_AUTOMATICALLY
        ).first(),
        what="message.received",
    )
    assert received.payload["text"] == faults.AUTO_REPLY_TEXT
    conversation.refresh_from_db()
    assert is_window_open(conversation, shared_now())  # the reply opened the window
    # The phone's delivery receipt and its reply are separate envelopes: either may be
    # handled first.
    wait_for(lambda: status_of(answered) in ("delivered", "read"), what="the answer delivered")
    # A free-form message may go now, and is answered again.
    do_send_message(number, faults.REPLIES_AUTOMATICALLY, Text("anything else?"))
    wait_for(
        lambda: (
            Message.objects.filter(
                direction="inbound", conversation__customer=faults.REPLIES_AUTOMATICALLY
            ).count()
            == 2
        ),
        what="the second automatic reply",
    )

    # Long after its delivery (two replies went round meanwhile), nobody has read it.
    assert status_of(unread) == "delivered" and unread.read_at is None
    with pytest.raises(FleetRefused):
        fault_fleet.read(faults.NEVER_READS)


def test_the_offline_number_gets_its_queue_after_an_hour_of_simulated_time(
    fault_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    live_env: dict[str, str],
    number: PhoneNumber,
    factory: Any,
    shared_clock: None,
) -> None:
    serve(number, factory, asgi_server)
    assert fault_fleet.get(faults.OFFLINE_FOR_A_WHILE)["online"] is False
    message = do_send_message(number, faults.OFFLINE_FOR_A_WHILE, template())
    wait_for(lambda: status_of(message) == "sent", what="queued at the relay")

    def looked_after(at: dt.datetime) -> bool:
        checked = fault_fleet.health()["fault_checked_at"]
        return checked is not None and dt.datetime.fromisoformat(checked) >= at

    manage(live_env, "clock", "advance", "40m")
    moved = shared_now()  # once: the fleet must look at a time at least this late
    wait_for(lambda: looked_after(moved), what="the fleet to look at the new time")
    assert status_of(message) == "sent"  # 40 minutes offline: still nothing

    manage(live_env, "clock", "advance", "25m")
    wait_for(lambda: status_of(message) == "delivered", what="delivered after the hour")
    message.refresh_from_db()
    assert message.delivered_at is not None and message.accepted_at is not None
    assert message.delivered_at - message.accepted_at >= faults.OFFLINE_STRETCH
    assert fault_fleet.get(faults.OFFLINE_FOR_A_WHILE)["online"] is False  # offline again

    # A new stretch began when it woke: a message now waits for the next hour.
    later = do_send_message(number, faults.OFFLINE_FOR_A_WHILE, template())
    wait_for(lambda: status_of(later) == "sent", what="queued at the relay")
    manage(live_env, "clock", "advance", "61m")
    wait_for(lambda: status_of(later) == "delivered", what="delivered after the next hour")


def test_the_device_changer_shows_the_business_a_new_security_code(
    fault_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
) -> None:
    serve(number, factory, asgi_server)
    customer = faults.CHANGES_DEVICE
    customer_wrote(number, customer)
    key_before = bytes(LocalDevice.objects.get(e164=customer, device_id=1).identity_public)

    first = do_send_message(number, customer, Text("first"))
    wait_for(lambda: status_of(first) == "delivered", what="the first message delivered")
    assert not StreamEntry.objects.filter(name="customer.identity_changed").exists()

    def reinstalled() -> bool:
        device = LocalDevice.objects.filter(e164=customer, device_id=1).first()
        return (
            device is not None
            and bytes(device.identity_public) != key_before
            and fault_fleet.get(customer)["connected"]
        )

    wait_for(reinstalled, what="the re-install")
    second = do_send_message(number, customer, Text("second"))
    wait_for(lambda: status_of(second) == "delivered", what="delivered on a new session")
    changed = wait_for(
        lambda: StreamEntry.objects.filter(name="customer.identity_changed").first(),
        what="customer.identity_changed",
    )
    assert changed.business_id == number.business_id
    assert (changed.payload["customer"], changed.payload["number"]) == (customer, number.e164)
    assert StreamEntry.objects.filter(name="customer.identity_changed").count() == 1
