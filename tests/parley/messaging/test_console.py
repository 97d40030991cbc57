"""The Conversations page: who may open it, what it shows, and that it fits a phone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging import actions
from parley.messaging.content import Text
from parley.messaging.models import Conversation

pytestmark = pytest.mark.django_db
CUSTOMER = "+919876500003"


@pytest.mark.parametrize("role", ["agent", "supervisor", "developer"])
def test_the_roles_that_read_conversations_see_messages_and_statuses(
    number: PhoneNumber, factory: Any, console_client: Any, role: str
) -> None:
    with clock.frozen(dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)):
        actions.do_record_inbound_message(number, CUSTOMER, Text("where is it?"),
                                          envelope_guid="c1")  # fmt: skip
        sent = actions.do_send_message(number, CUSTOMER, Text("on its way"), deliver=False)
        actions.do_record_sent_envelope(sent.pk, "c2", 1)
        failed = actions.do_send_message(number, CUSTOMER, Text("oops"), deliver=False)
        actions.do_fail_message(failed.pk, 131026, "Message undeliverable")
    client = console_client.as_(factory.staff(number.business, role))
    listing = client.get("/conversations/").content.decode()
    assert 'href="/conversations/"' in listing  # in the navigation
    conversation = Conversation.objects.get()
    assert f'href="/conversations/{conversation.pk}/"' in listing and CUSTOMER in listing
    page = client.get(f"/conversations/{conversation.pk}/").content.decode()
    assert "where is it?" in page and "on its way" in page
    assert f'data-wamid="{sent.wamid}"' in page
    assert "status-sent" in page and "sent 08:00:00" in page
    assert "131026 Message undeliverable" in page
    assert "<script>" not in page and "style=" not in page


@pytest.mark.parametrize("role", ["administrator", "compliance_officer"])
def test_roles_without_the_capability_are_refused(
    number: PhoneNumber, factory: Any, console_client: Any, role: str
) -> None:
    actions.do_record_inbound_message(number, CUSTOMER, Text("private"), envelope_guid="d1")
    client = console_client.as_(factory.staff(number.business, role))
    assert 'href="/conversations/"' not in client.get("/").content.decode()
    response = client.get(f"/conversations/{Conversation.objects.get().pk}/")
    assert response.status_code == 403 and b"private" not in response.content


def test_another_business_conversation_is_not_found(
    number: PhoneNumber, factory: Any, console_client: Any
) -> None:
    actions.do_record_inbound_message(number, CUSTOMER, Text("mine"), envelope_guid="e1")
    stranger = factory.staff(factory.business("Other"), "agent")
    client = console_client.as_(stranger)
    response = client.get(f"/conversations/{Conversation.objects.get().pk}/")
    assert response.status_code == 404 and b"mine" not in response.content
    assert client.get("/conversations/999999999999999999/").status_code == 404
    assert b"No conversations yet" in client.get("/conversations/").content
