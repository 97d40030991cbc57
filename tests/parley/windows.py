"""The customer-service window in tests: a customer's message arrives (through the inbound
action, as the endpoint records it), so the business may answer free-form for 24 hours."""

from __future__ import annotations

import uuid

from parley.accounts.models import PhoneNumber
from parley.messaging.actions import do_record_inbound_message
from parley.messaging.content import Text
from parley.messaging.models import Message


def customer_wrote(number: PhoneNumber, customer: str, body: str = "hi") -> Message:
    return do_record_inbound_message(number, customer, Text(body), envelope_guid=str(uuid.uuid4()))
