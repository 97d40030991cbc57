"""Moving many messages at once (envelopes recorded, a page of receipts, read through): the
same statuses, stamps and events, in the same order, as one move after another, for a
number of queries that does not grow with the number of messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.events import DeliveryRecorded, Event, MessageStatusChanged
from parley.messaging import actions
from parley.messaging.content import Text
from parley.messaging.models import Message
from tests.parley.messaging.test_receipts import changes, guid

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def accepted(number: PhoneNumber, count: int, first: int) -> list[Message]:
    sends = [
        actions.Outbound(f"+9198765{(first + i) % 100000:05d}", Text(f"m{first + i}"))
        for i in range(count)
    ]
    with clock.frozen(T0):
        return actions.do_send_messages(number, sends, deliver=False)


def record_sent(messages: list[Message], first: int) -> tuple[int, int]:
    """Record an envelope per message; returns (messages moved, queries made)."""
    sent = [(m.pk, guid(first + i), 1) for i, m in enumerate(messages)]
    with CaptureQueriesContext(connection) as queries, clock.frozen(T0 + dt.timedelta(seconds=1)):
        moved = actions.do_record_sent_envelopes(sent)
    return moved, len(queries)


def test_recording_envelopes_costs_the_same_for_5_or_20_messages(
    number: PhoneNumber,
    events: list[Event],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    few, many = accepted(number, 5, 0), accepted(number, 20, 100)
    with django_capture_on_commit_callbacks(execute=True):
        moved_few, queries_few = record_sent(few, 0)
    with django_capture_on_commit_callbacks(execute=True):
        moved_many, queries_many = record_sent(many, 100)
    assert (moved_few, moved_many) == (5, 20)
    assert queries_many == queries_few
    for m in [*few, *many]:
        m.refresh_from_db()
        assert (m.status, m.sent_at, m.accepted_at) == ("sent", T0 + dt.timedelta(seconds=1), T0)
        assert (m.delivered_at, m.read_at, m.error_code, m.error_title) == (None, None, None, "")
    # Each message's event, in id order.
    assert changes(events) == [(m.wamid, "accepted", "sent") for m in [*few, *many]]
    # Recorded again (the same envelopes): nothing moves, nothing is published.
    with django_capture_on_commit_callbacks(execute=True):
        assert record_sent(few, 0)[0] == 0
    assert len(changes(events)) == 25


def test_a_page_of_receipts_costs_the_same_for_5_or_20_messages(
    number: PhoneNumber,
    events: list[Event],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    few, many = accepted(number, 5, 0), accepted(number, 20, 100)
    record_sent(few, 0)
    record_sent(many, 100)
    at = T0 + dt.timedelta(minutes=1)

    def page(messages: list[Message], first: int) -> tuple[int, int]:
        # Each message delivered, then read, then a late delivery: two moves, one no-op.
        receipts = [
            (guid(first + i), kind)
            for kind in ("delivery", "read", "delivery")
            for i in range(len(messages))
        ]
        with CaptureQueriesContext(connection) as queries:
            moved = actions.do_apply_receipts(number, receipts, at=at)
        return moved, len(queries)

    seen = len(events)
    with django_capture_on_commit_callbacks(execute=True):
        moved_few, queries_few = page(few, 0)
    with django_capture_on_commit_callbacks(execute=True):
        moved_many, queries_many = page(many, 100)
    assert (moved_few, moved_many) == (10, 40)
    assert queries_many == queries_few
    for m in [*few, *many]:
        m.refresh_from_db()
        assert (m.status, m.delivered_at, m.read_at) == ("read", at, at)
        assert m.sent_at == T0 + dt.timedelta(seconds=1)
    # In the page's order: every delivered (with its billing fact), then every read.
    published = events[seen:]
    expected: list[tuple[str, str]] = []
    for batch in (few, many):
        for m in batch:
            expected += [(m.wamid, "delivered"), (m.wamid, "fact")]
        expected += [(m.wamid, "read") for m in batch]
    assert [
        (e.message_id, "fact" if isinstance(e, DeliveryRecorded) else e.status)
        for e in published
        if isinstance(e, (DeliveryRecorded, MessageStatusChanged))
    ] == expected
    fact = next(e for e in published if isinstance(e, DeliveryRecorded))
    assert (fact.sent_at, fact.delivered_at, fact.direction) == (T0, at, "A2P")


def test_a_read_before_its_delivery_reads_the_message_and_the_delivery_changes_nothing(
    number: PhoneNumber,
    events: list[Event],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    (message,) = accepted(number, 1, 0)
    record_sent([message], 0)
    failed = accepted(number, 1, 1)[0]
    actions.do_fail_message(failed.pk, 131026, "Message undeliverable")
    record_sent([failed], 1)  # an envelope of a failed message moves nothing
    seen = len(events)
    with django_capture_on_commit_callbacks(execute=True):
        moved = actions.do_apply_receipts(
            number, [(guid(0), "read"), (guid(0), "delivery"), (guid(1), "delivery")], at=T0
        )
    assert moved == 1
    message.refresh_from_db()
    failed.refresh_from_db()
    assert (message.status, message.read_at, message.delivered_at) == ("read", T0, None)
    assert (failed.status, failed.error_code, failed.error_title) == (
        "failed", 131026, "Message undeliverable",
    )  # fmt: skip
    assert changes(events[seen:]) == [(message.wamid, "sent", "read")]
    assert not any(isinstance(e, DeliveryRecorded) for e in events[seen:])


def test_a_business_devices_page_of_receipts_costs_the_same_for_5_or_20(
    number: PhoneNumber,
    events: list[Event],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """The endpoint's client decrypts a page in one unit of work: each receipt waits for
    its end, and the page is applied in one go."""
    from e2ee.actions import do_create_device
    from e2ee.client import SignalClient
    from e2ee.store import DjangoDeviceState

    few, many = accepted(number, 5, 0), accepted(number, 20, 100)
    record_sent(few, 0)
    record_sent(many, 100)
    state = DjangoDeviceState(do_create_device(number.e164, business_number=True))
    client = SignalClient(state)

    def page(messages: list[Message], first: int) -> int:
        receipts = [
            {
                "guid": f"10000000-0000-4000-8000-{first + i:012d}",
                "source": m.conversation.customer,
                "source_device_id": 1,
                "receipt": {"kind": "delivery", "guid": guid(first + i)},
            }
            for i, m in enumerate(messages)
        ]
        with CaptureQueriesContext(connection) as queries, state.atomic():
            for receipt in receipts:
                assert client.process_envelope(receipt).kind == "receipt"
        return len(queries)

    seen = len(events)
    with django_capture_on_commit_callbacks(execute=True):
        queries_few = page(few, 0)
    with django_capture_on_commit_callbacks(execute=True):
        queries_many = page(many, 100)
    assert queries_many == queries_few
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in [*few, *many]])} == {
        "delivered"
    }
    assert changes(events[seen:]) == [(m.wamid, "sent", "delivered") for m in [*few, *many]]
