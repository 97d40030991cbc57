"""The endpoint's batch, live (the customers' phones registered with a real relay): sending
to more customers makes no more queries of the endpoint's own tables (sessions, identities,
messages, the event stream)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from e2ee.actions import client_for, do_create_device
from parley.accounts.models import PhoneNumber
from parley.messaging import endpoint
from parley.messaging.actions import do_send_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.e2ee.conftest import new_handset_number
from tests.parley.messaging.test_end_to_end import register_endpoint
from tests.parley.windows import customer_wrote

pytestmark = pytest.mark.django_db(transaction=True)
OURS = re.compile(r'"(e2ee_\w+|messaging_\w+|core_stream_entry)"')


def test_a_batch_to_more_customers_makes_no_more_queries(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    register_endpoint(number, factory, asgi_server)
    phones = []
    for _ in range(6):
        phone = client_for(do_create_device(new_handset_number()), asgi_server)
        phone.register()
        phones.append(phone)
        customer_wrote(number, phone.e164)
    device = endpoint.business_device(number)
    assert device is not None

    def batch(count: int) -> int:
        for phone in phones[:count]:
            do_send_message(number, phone.e164, Text(f"to {count}"), deliver=False)
        with CaptureQueriesContext(connection) as queries:
            assert endpoint._send_batch(device, None) == count
        return sum(bool(OURS.search(q["sql"])) for q in queries.captured_queries)

    batch(6)  # every session starts (a bundle each) and its first message goes
    assert batch(2) == batch(6)
    assert set(Message.objects.filter(direction="outbound").values_list("status", flat=True)) == {
        "sent"
    }
    for phone in phones:
        texts = [r.body for r in phone.receive() if r.kind == "text"]
        assert texts == (["to 6", "to 2", "to 6"] if phone in phones[:2] else ["to 6", "to 6"])
