"""The fold of the e2ee app's business history into messaging (the data migration's copy)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from e2ee.actions import do_create_device
from e2ee.models import LocalDevice
from e2ee.models import Message as DeviceMessage
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging.history import fold_e2ee_history
from parley.messaging.models import Conversation, Envelope, Message

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def row(device: LocalDevice, n: int, **fields: Any) -> DeviceMessage:
    at = T0 + dt.timedelta(minutes=n)
    defaults = {"peer": "+919876500002", "guid": f"00000000-0000-4000-8000-{n:012d}",
                "kind": "text", "body": f"m{n}", "client_timestamp": n, "created_at": at,
                "updated_at": at}  # fmt: skip
    return DeviceMessage.objects.create(device=device, **{**defaults, **fields})


def test_business_history_moves_and_handset_history_stays(number: PhoneNumber) -> None:
    business = do_create_device(number.e164, business_number=True)
    handset = do_create_device("+919876500002")
    row(business, 1, direction="in", status="received")
    row(business, 2, direction="out", status="read")
    row(business, 3, direction="out", status="expired")
    row(business, 4, direction="in", status="failed", kind="undecryptable", body="")
    row(business, 5, direction="out", status="sent", kind="media", body="invoice",
        attachment={"id": "ab", "file_name": "i.txt", "mime_type": "text/plain",
                    "file_length": 9})  # fmt: skip
    row(handset, 6, direction="out", status="delivered", peer=number.e164)

    with clock.frozen(T0 + dt.timedelta(days=10)):
        moved = fold_e2ee_history(DeviceMessage, (Conversation, Message, Envelope))

    assert moved == 5
    assert list(DeviceMessage.objects.values_list("device__e164", "body")) == [(handset.e164, "m6")]
    conversation = Conversation.objects.get()
    assert (conversation.number_id, conversation.customer) == (number.pk, "+919876500002")
    assert conversation.last_inbound_at == T0 + dt.timedelta(minutes=4)
    messages = list(Message.objects.order_by("created_at"))
    assert [(m.direction, m.content_type, m.status) for m in messages] == [
        ("inbound", "text", "received"),
        ("outbound", "text", "read"),
        ("outbound", "text", "expired"),
        ("inbound", "unsupported", "received"),
        ("outbound", "media", "sent"),
    ]
    assert messages[0].content == {"type": "text", "body": "m1", "preview_url": False,
                                   "suggestions": []}  # fmt: skip
    assert messages[1].read_at == T0 + dt.timedelta(minutes=2)
    assert messages[4].content["file_name"] == "i.txt" and messages[4].content["caption"] == (
        "invoice"
    )
    assert all(m.wamid.startswith("wamid.") for m in messages)
    assert (
        Envelope.objects.get(guid="00000000-0000-4000-8000-000000000002").message == (messages[1])
    )
    # Run again (nothing left to move): nothing doubles.
    assert fold_e2ee_history(DeviceMessage, (Conversation, Message, Envelope)) == 0
    assert Message.objects.count() == 5


def test_the_migration_is_registered_after_the_tables() -> None:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    fold = loader.get_migration("messaging", "0002_fold_e2ee_business_history")
    assert ("messaging", "0001_initial") in fold.dependencies
    assert any(app == "e2ee" for app, _ in fold.dependencies)
