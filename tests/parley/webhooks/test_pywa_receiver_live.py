"""pywa as a live receiver: its webhook path (signature check on) behind a real local HTTP
server, fed by Parley's delivery worker from the stream. A customer's message and the
lifecycle of a reply (sent, delivered, read) and of a failed one arrive as pywa's types."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from pywa.types import Message, MessageStatus, MessageStatusType
from werkzeug import Request, Response

from parley.messaging import actions
from parley.messaging.content import Text
from tests.parley.webhooks.conftest import RunningWorker, consume, eventually
from tests.parley.webhooks.test_pywa_parses import Receiver as PywaReceiver
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "+919820012345"
GUID = "00000000-0000-4000-8000-00000000cafe"


def test_pywa_accepts_and_parses_parleys_deliveries(
    subscribed: Any, httpserver: Any, delivery_worker: RunningWorker, frozen_clock: Any
) -> None:
    s = subscribed()
    number = s.number
    pywa = PywaReceiver(s.secret, phone_id=str(number.pk), waba_id=str(number.business_id))
    answers: list[tuple[str, int]] = []

    def view(request: Request) -> Response:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a value pywa does not know fails the test
            text, status = pywa.post(request.get_data(), dict(request.headers))
        answers.append((text, status))
        return Response(text, status=status)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(view)
    inbound = customer_wrote(number, CUSTOMER, "Is my order on its way?")
    reply = actions.do_send_message(number, CUSTOMER, Text("Yes, today."), deliver=False)
    actions.do_record_sent_envelope(reply.pk, GUID, 1)
    frozen_clock.advance(seconds=2)
    actions.do_apply_receipt(number, GUID, "delivery")
    frozen_clock.advance(seconds=2)
    actions.do_apply_receipt(number, GUID, "read")
    failed = actions.do_send_message(number, CUSTOMER, Text("never"), deliver=False)
    actions.do_fail_message(failed.pk, 131026, "Message undeliverable")
    consume()
    eventually(lambda: len(pywa.updates) == 5)
    assert all(answer == ("ok", 200) for answer in answers)

    (message,) = [u for u in pywa.updates if isinstance(u, Message)]
    assert message.id == inbound.wamid and message.text == "Is my order on its way?"
    assert message.from_user.wa_id == CUSTOMER.lstrip("+")
    statuses = {(u.id, u.status) for u in pywa.updates if isinstance(u, MessageStatus)}
    assert statuses == {
        (reply.wamid, MessageStatusType.SENT),
        (reply.wamid, MessageStatusType.DELIVERED),
        (reply.wamid, MessageStatusType.READ),
        (failed.wamid, MessageStatusType.FAILED),
    }
    by_status = {u.status: u for u in pywa.updates if isinstance(u, MessageStatus)}
    failure = by_status[MessageStatusType.FAILED]
    assert failure.error is not None and failure.error.code == 131026
    sent = by_status[MessageStatusType.SENT]
    assert sent.pricing is not None and sent.pricing.billable is False  # inside the window
