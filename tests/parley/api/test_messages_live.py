"""The Cloud API's send on the live stack (uvicorn, a Celery worker running the business
endpoint, a customer's handset driven by the Signal client): the service window decides,
asynchronously, and mark-as-read reaches the customer's phone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from e2ee.actions import client_for, do_create_device
from parley.accounts.actions.numbers import do_add_number
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.accounts.selectors import get_simulated_inbox
from parley.core.clock_actions import do_advance_clock
from parley.core.models import StreamEntry
from parley.messaging.actions import do_enable_endpoint
from parley.messaging.endpoint import business_device
from parley.messaging.models import Message
from parley.messaging.selectors import is_endpoint_served
from tests.e2ee.conftest import new_handset_number
from tests.parley.api.test_messages import approved_template, template_to
from tests.parley.messaging.test_end_to_end import eventually, register_endpoint, status_of
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_window_decides_after_the_send_and_reads_reach_the_phone(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any, shared_clock: None
) -> None:
    register_endpoint(number, factory, asgi_server)
    do_enable_endpoint(number)
    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    token = do_create_api_token(factory.staff(number.business, "developer"), name="app").secret

    def post(body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(
            f"{asgi_server}/v23.0/{number.pk}/messages",
            json={"messaging_product": "whatsapp", **body},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def send_text(body: str) -> Message:
        wamid = post({"to": alice.e164, "type": "text", "text": {"body": body}})["messages"][0]
        return Message.objects.get(wamid=wamid["id"])

    # She never wrote: accepted (a 200), then failed with 131047 by the endpoint.
    cold = send_text("Big sale today!")
    assert cold.status == "accepted"
    eventually(lambda: status_of(cold) == "failed", "131047")
    cold.refresh_from_db()
    assert cold.error_code == 131047 and "24 hours" in cold.error_title
    failed = StreamEntry.objects.get(name="message.status_changed", payload__status="failed")
    assert (failed.payload["message_id"], failed.payload["error_code"]) == (cold.wamid, 131047)

    # She writes: the window opens and the answer goes out and is delivered.
    (guid,) = alice.send_text(number.e164, "where is my parcel?")
    question = eventually(
        lambda: Message.objects.filter(direction="inbound", conversation__customer=alice.e164)
        .first(),
        "her message",
    )  # fmt: skip
    answer = send_text("It arrives tomorrow.")
    eventually(lambda: status_of(answer) == "sent", "sent")
    assert [r.body for r in alice.receive() if r.kind == "text"] == ["It arrives tomorrow."]
    eventually(lambda: status_of(answer) == "delivered", "delivered")

    # The business marks her message read: her phone gets the read receipt for it.
    assert post({"status": "read", "message_id": question.wamid}) == {"success": True}
    assert status_of(question) == "read"
    receipts = eventually(
        lambda: [r for r in alice.receive() if r.kind == "receipt"], "the read receipt"
    )
    assert [(r.receipt_kind, r.receipt_guid) for r in receipts] == [("read", guid)]

    # A day and an hour later the window has closed again.
    do_advance_clock(dt.timedelta(hours=25), actor_label="test")
    late = send_text("Anything else?")
    eventually(lambda: status_of(late) == "failed", "131047 after 25 h")
    late.refresh_from_db()
    assert late.error_code == 131047
    # A template goes anywhere.
    approved_template(number)
    wamid = post(template_to(alice.e164))["messages"][0]["id"]
    reopened = Message.objects.get(wamid=wamid)
    eventually(lambda: status_of(reopened) == "sent", "the template sent")
    (shown,) = [r for r in alice.receive() if r.kind == "template"]
    assert shown.body.splitlines() == [
        "Order A-7",
        "Hi Ana, your order ships on Friday. Thanks!",
        "Acme Shop",
    ]


def test_a_number_registered_through_the_api_sends_without_any_command(
    asgi_server: str, celery_worker: None, factory: Any
) -> None:
    business = factory.business("Courier", country="US")
    admin = factory.staff(business, "administrator")
    setup = do_create_api_token(admin, name="setup").secret
    number = do_add_number(admin, phone_number="+14155550177", display_name="Courier")
    base = f"{asgi_server}/v23.0/{number.pk}"

    def call(path: str, body: dict[str, Any], secret: str = setup) -> dict[str, Any]:
        response = requests.post(f"{base}/{path}", json=body, timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json())

    call("request_code", {"code_method": "SMS", "language": "en_US"})
    code = eventually(lambda: get_simulated_inbox(number), "the code")[0]["code"]
    call("verify_code", {"code": str(code)})
    call("register", {"messaging_product": "whatsapp", "pin": "246810"})
    # The endpoints consumer reads the number's status change from the stream and gives
    # it a Signal device, registered with the relay and served by the workers.
    eventually(lambda: is_endpoint_served(number), "the endpoint", timeout=60)
    device = business_device(number)
    assert device is not None and device.credential_encrypted

    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    alice.send_text(number.e164, "do you deliver on Sundays?")
    eventually(lambda: Message.objects.filter(conversation__number=number).exists(), "her text")
    app = do_create_api_token(factory.staff(business, "developer"), name="app").secret
    sent = call("messages", {"messaging_product": "whatsapp", "to": alice.e164, "type": "text",
                             "text": {"body": "Yes, 9 to 5."}}, app)  # fmt: skip
    message = Message.objects.get(wamid=sent["messages"][0]["id"])
    eventually(lambda: status_of(message) == "sent", "sent")
    assert [r.body for r in alice.receive() if r.kind == "text"] == ["Yes, 9 to 5."]
    eventually(lambda: status_of(message) == "delivered", "delivered")

    # Deregistered, the number is no longer served.
    call("deregister", {})
    eventually(lambda: not is_endpoint_served(number), "the endpoint stopped")


def test_a_number_registered_before_it_was_served_gets_its_endpoint_on_its_first_send(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    assert business_device(number) is None  # CONNECTED, as the demo seed makes it
    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    customer_wrote(number, alice.e164)
    token = do_create_api_token(factory.staff(number.business, "developer"), name="app").secret
    response = requests.post(
        f"{asgi_server}/v23.0/{number.pk}/messages",
        json={"messaging_product": "whatsapp", "to": alice.e164, "type": "text",
              "text": {"body": "Welcome back"}},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    message = Message.objects.get(wamid=response.json()["messages"][0]["id"])
    eventually(lambda: status_of(message) == "sent", "sent")
    assert is_endpoint_served(number) and business_device(number) is not None
    assert [r.body for r in alice.receive() if r.kind == "text"] == ["Welcome back"]
