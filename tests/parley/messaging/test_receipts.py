"""Receipts a business endpoint takes a page at a time: applied together, in their order, as
one by one would apply them (the same statuses, stamps and events), and applied only with
the unit of work that took them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from e2ee.actions import do_create_device
from e2ee.store import DjangoDeviceState
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.events import DeliveryRecorded, Event, MessageStatusChanged
from parley.messaging import actions
from parley.messaging.content import Text
from parley.messaging.models import Message

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def guid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def sent(number: PhoneNumber, n: int, customer: str = "+919876500001") -> Message:
    message = actions.do_send_message(number, customer, Text(f"m{n}"), deliver=False)
    actions.do_record_sent_envelope(message.pk, guid(n), 1)
    return message


def changes(events: list[Event]) -> list[tuple[str, str, str]]:
    return [
        (e.message_id, e.previous_status, e.status)
        for e in events
        if isinstance(e, MessageStatusChanged)
    ]


def test_a_batch_applies_receipts_in_order_as_one_by_one_would(
    number: PhoneNumber,
    factory: Any,
    events: list[Event],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    other = PhoneNumber.objects.create(
        business=factory.business(), e164="+14155550998", country="US", display_name="O",
        created_at=clock.now(),
    )  # fmt: skip
    with clock.frozen(T0):
        one, two, three = (sent(number, n) for n in (1, 2, 3))
        theirs = sent(other, 4)
    with django_capture_on_commit_callbacks(execute=True):
        moved = actions.do_apply_receipts(
            number,
            [
                (guid(2), "delivery"),
                (guid(1), "delivery"),
                (guid(2), "read"),  # the same message, later in the page
                (guid(1), "delivery"),  # a repeat: nothing
                (guid(3), "seen"),  # not a receipt kind
                (guid(4), "read"),  # another number's envelope
                (guid(9), "read"),  # no such envelope
            ],
            at=T0 + dt.timedelta(seconds=5),
        )
    assert moved == 3
    for m in (one, two, three, theirs):
        m.refresh_from_db()
    assert (one.status, two.status, three.status, theirs.status) == (
        "delivered", "read", "sent", "sent",
    )  # fmt: skip
    assert one.delivered_at == two.delivered_at == two.read_at == T0 + dt.timedelta(seconds=5)
    assert changes(events) == [
        (two.wamid, "sent", "delivered"),
        (one.wamid, "sent", "delivered"),
        (two.wamid, "delivered", "read"),
    ]
    facts = [e.message_id for e in events if isinstance(e, DeliveryRecorded)]
    assert facts == [two.wamid, one.wamid]
    assert actions.do_apply_receipts(number, []) == 0


def test_a_business_devices_receipts_wait_for_the_end_of_its_unit_of_work(
    number: PhoneNumber,
) -> None:
    one, two = sent(number, 1), sent(number, 2)
    state = DjangoDeviceState(do_create_device(number.e164, business_number=True))
    with state.atomic():
        with state.atomic():
            assert state.set_message_status(guid(1), "delivered")
        # An inner unit that fails (an envelope that would not decrypt) drops its own work
        # only: the receipts taken before it stand.
        with pytest.raises(ValueError, match="undecryptable"):
            _fail_inside(state, ValueError("undecryptable"))
        with state.atomic():
            state.set_message_status(guid(2), "read")
        one.refresh_from_db()
        assert one.status == "sent"  # not yet: at the end of the outermost unit
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, two.status) == ("delivered", "read")
    # A unit that fails applies none of its receipts; outside a unit, at once.
    three = sent(number, 3)
    with pytest.raises(RuntimeError, match="the page failed"):
        _fail_inside(state, RuntimeError("the page failed"), receipt=guid(3))
    three.refresh_from_db()
    assert three.status == "sent"
    assert state.set_message_status(guid(3), "delivered") is True
    assert state.set_message_status(guid(9), "delivered") is False
    three.refresh_from_db()
    assert three.status == "delivered"


def _fail_inside(state: DjangoDeviceState, error: Exception, *, receipt: str = "") -> None:
    """A unit of work that takes a receipt (if given) and then fails."""
    with state.atomic():
        if receipt:
            state.set_message_status(receipt, "delivered")
        raise error
