"""The lifecycle actions: rows and events change together, in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.core.events import (
    ConversationWindowClosed,
    DeliveryRecorded,
    Event,
    MessageReceived,
    MessageStatusChanged,
)
from parley.messaging import actions, selectors
from parley.messaging.content import Location, Template, Text, Unsupported
from parley.messaging.models import Conversation, Message

pytestmark = pytest.mark.django_db
CUSTOMER = "+919876500001"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def of(kind: type[Event], events: list[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_a_message_goes_accepted_sent_delivered_read_with_an_event_each(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with clock.frozen(T0) as frozen, django_capture_on_commit_callbacks(execute=True):
        message = actions.do_send_message(number, CUSTOMER, Text("hi"), deliver=False)
        frozen.advance(seconds=1)
        actions.do_record_sent_envelope(message.pk, "00000000-0000-4000-8000-000000000001", 1)
        frozen.advance(seconds=1)
        assert actions.do_apply_receipt(number, "00000000-0000-4000-8000-000000000001",
                                        "delivery")  # fmt: skip
        frozen.advance(seconds=1)
        actions.do_apply_receipt(number, "00000000-0000-4000-8000-000000000001", "read")
        # A late delivery receipt changes nothing and publishes nothing.
        actions.do_apply_receipt(number, "00000000-0000-4000-8000-000000000001", "delivery")
    message.refresh_from_db()
    assert message.wamid.startswith("wamid.") and message.status == "read"
    assert (message.accepted_at, message.sent_at, message.delivered_at, message.read_at) == (
        T0, T0 + dt.timedelta(seconds=1), T0 + dt.timedelta(seconds=2),
        T0 + dt.timedelta(seconds=3),
    )  # fmt: skip
    changes = of(MessageStatusChanged, events)
    assert [(e.previous_status, e.status) for e in changes] == [
        ("", "accepted"), ("accepted", "sent"), ("sent", "delivered"), ("delivered", "read"),
    ]  # fmt: skip
    assert {e.message_id for e in changes} == {message.wamid}
    (fact,) = of(DeliveryRecorded, events)
    assert (fact.message_id, fact.direction, fact.content, fact.channel) == (
        message.wamid, "A2P", "text", "WHATSAPP",
    )  # fmt: skip
    assert (fact.sent_at, fact.delivered_at, fact.template_category) == (
        T0, T0 + dt.timedelta(seconds=2), "service",
    )  # fmt: skip


def test_an_action_that_rolls_back_publishes_nothing(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    def send_then_fail() -> None:
        with transaction.atomic():
            actions.do_send_message(number, CUSTOMER, Text("never"), deliver=False)
            raise RuntimeError("the caller failed after the action")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        send_then_fail()
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert events == []


def test_failed_and_expired_end_the_lifecycle_and_are_never_billed(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        failed = actions.do_send_message(number, CUSTOMER, Text("a"), deliver=False)
        assert actions.do_fail_message(failed.pk, 131026, "Message undeliverable")
        assert not actions.do_fail_message(failed.pk, 131000, "again")
        expired = actions.do_send_message(number, CUSTOMER, Text("b"), deliver=False)
        actions.do_record_sent_envelope(expired.pk, "00000000-0000-4000-8000-00000000000e", 1)
        actions.do_apply_receipt(number, "00000000-0000-4000-8000-00000000000e", "expired")
        actions.do_apply_receipt(number, "00000000-0000-4000-8000-00000000000e", "delivery")
    failed.refresh_from_db()
    expired.refresh_from_db()
    assert (failed.status, failed.error_code, failed.error_title) == (
        "failed", 131026, "Message undeliverable",
    )  # fmt: skip
    assert expired.status == "expired" and expired.delivered_at is None
    assert of(DeliveryRecorded, events) == []
    last = of(MessageStatusChanged, events)
    assert [(e.status, e.error_code) for e in last if e.status in ("failed", "expired")] == [
        ("failed", 131026), ("expired", None),
    ]  # fmt: skip


def test_a_receipt_for_another_numbers_envelope_is_ignored(
    number: PhoneNumber, factory: Any
) -> None:
    message = actions.do_send_message(number, CUSTOMER, Text("a"), deliver=False)
    actions.do_record_sent_envelope(message.pk, "00000000-0000-4000-8000-0000000000aa", 1)
    other = PhoneNumber.objects.create(
        business=factory.business(), e164="+14155550999", country="US", display_name="O",
        created_at=clock.now(),
    )  # fmt: skip
    assert not actions.do_apply_receipt(other, "00000000-0000-4000-8000-0000000000aa", "read")
    assert not actions.do_apply_receipt(number, "00000000-0000-4000-8000-0000000000aa", "seen")
    message.refresh_from_db()
    assert message.status == "sent"


def test_inbound_publishes_the_decrypted_content_to_agents_once_per_envelope(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    guid = "00000000-0000-4000-8000-0000000000b1"
    with django_capture_on_commit_callbacks(execute=True):
        first = actions.do_record_inbound_message(
            number, CUSTOMER, Location(12.97, 77.59, name="Home"), envelope_guid=guid
        )
        again = actions.do_record_inbound_message(
            number, CUSTOMER, Location(12.97, 77.59, name="Home"), envelope_guid=guid
        )
    assert first.pk == again.pk and Message.objects.count() == 1
    (received,) = of(MessageReceived, events)
    assert received.business_id == number.business_id
    assert received.text == "Home" and '"latitude":12.97' in received.content_json
    assert "administrator" not in received.audience
    assert "compliance_officer" not in received.audience
    (fact,) = of(DeliveryRecorded, events)
    assert (fact.direction, fact.content) == ("P2A", "location_share")


def test_bad_input_is_refused_before_anything_is_written(number: PhoneNumber) -> None:
    with pytest.raises(InvalidParameter, match="not a phone number"):
        actions.do_send_message(number, "nobody", Text("a"), deliver=False)
    with pytest.raises(InvalidParameter, match="a business cannot send unsupported"):
        actions.do_send_message(number, CUSTOMER, Unsupported(), deliver=False)
    assert not Message.objects.exists()


def test_the_service_window_opens_extends_and_closes_once(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with clock.frozen(T0) as frozen, django_capture_on_commit_callbacks(execute=True):
        actions.do_send_message(number, CUSTOMER, Template("hello", "en", "utility"),
                                deliver=False)  # fmt: skip
        conversation = Conversation.objects.get()
        assert not selectors.is_window_open(conversation)
        actions.do_record_inbound_message(number, CUSTOMER, Text("hi"), envelope_guid="g1")
        frozen.advance(hours=20)
        actions.do_record_inbound_message(number, CUSTOMER, Text("still?"), envelope_guid="g2")
        conversation.refresh_from_db()
        frozen.advance(hours=23, minutes=59)
        assert selectors.is_window_open(conversation)
        assert actions.do_close_windows() == 0
        frozen.advance(minutes=1)
        assert not selectors.is_window_open(conversation)
        assert actions.do_close_windows() == 1
        assert actions.do_close_windows() == 0  # idempotent
        frozen.advance(days=3)
        assert actions.do_close_windows() == 0
    (closed,) = of(ConversationWindowClosed, events)
    assert closed.closed_at == T0 + dt.timedelta(hours=44)
    assert closed.customer == CUSTOMER


def test_a_window_reopened_after_closing_closes_again(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with clock.frozen(T0) as frozen, django_capture_on_commit_callbacks(execute=True):
        actions.do_record_inbound_message(number, CUSTOMER, Text("1"), envelope_guid="h1")
        frozen.advance(hours=25)
        assert actions.do_close_windows() == 1
        actions.do_record_inbound_message(number, CUSTOMER, Text("2"), envelope_guid="h2")
        frozen.advance(hours=25)
        assert actions.do_close_windows() == 1
    assert len(of(ConversationWindowClosed, events)) == 2


def test_sends_accepted_together_keep_their_order_and_each_get_their_event(
    number: PhoneNumber, events: list[Event], django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    other = "+919876500002"
    sends = [
        actions.Outbound(CUSTOMER, Text("one")),
        actions.Outbound(other, Text("two")),
        actions.Outbound(CUSTOMER, Text("three"), reply_to="wamid.earlier"),
    ]
    with clock.frozen(T0), django_capture_on_commit_callbacks(execute=True):
        sent = actions.do_send_messages(number, sends, deliver=False)
    stored = list(Message.objects.order_by("pk"))
    assert [m.pk for m in stored] == [m.pk for m in sent]
    assert [(m.content["body"], m.conversation.customer, m.reply_to) for m in stored] == [
        ("one", CUSTOMER, ""),
        ("two", other, ""),
        ("three", CUSTOMER, "wamid.earlier"),
    ]
    assert {(m.status, m.accepted_at, m.direction) for m in stored} == {
        ("accepted", T0, "outbound")}  # fmt: skip
    assert sorted(Conversation.objects.values_list("customer", "last_message_at")) == [
        (CUSTOMER, T0), (other, T0)]  # fmt: skip
    changes = of(MessageStatusChanged, events)
    assert [(e.message_id, e.status, e.customer) for e in changes] == [
        (m.wamid, "accepted", m.conversation.customer) for m in stored
    ]


def test_one_malformed_send_among_many_writes_nothing(number: PhoneNumber) -> None:
    sends = [actions.Outbound(CUSTOMER, Text("fine")), actions.Outbound("12", Text("to nobody"))]
    with pytest.raises(InvalidParameter):
        actions.do_send_messages(number, sends)
    assert not Message.objects.exists() and not Conversation.objects.exists()
