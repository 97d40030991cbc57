"""What an endpoint reads each turn stays as cheap on a number with a long history as on a
new one: its next messages come from the index of accepted messages, never from a walk
through every message of the number's conversations."""

from __future__ import annotations

import pytest

from parley.accounts.models import PhoneNumber
from parley.messaging import actions, selectors
from parley.messaging.content import Text
from parley.messaging.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(number: PhoneNumber) -> list[Message]:
    """A number that has written to 40 customers, 5 messages each, all delivered but the
    last two it sent."""
    messages = [
        actions.do_send_message(number, f"+91987650{c:04d}", Text(f"m{c}.{n}"), deliver=False)
        for n in range(5)
        for c in range(40)
    ]
    Message.objects.exclude(pk__in=[m.pk for m in messages[-2:]]).update(status="delivered")
    return messages


def test_the_next_messages_to_send_come_from_the_index_of_accepted_ones(
    number: PhoneNumber, history: list[Message]
) -> None:
    query = selectors.list_messages_to_send(number, limit=100)
    assert [m.pk for m in query] == [m.pk for m in history[-2:]]
    assert "messaging_message_to_send" in query.explain()
