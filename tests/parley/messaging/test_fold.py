"""The fold of the e2ee app's business history into messaging (the data migration's copy).

e2ee.Message no longer exists (e2ee keeps key material and sessions only): these tests take
the database back to before its removal, write old rows with the historical models, and
migrate forward again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from e2ee.actions import do_create_device
from e2ee.handsets.models import HandsetMessage
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging.history import fold_e2ee_history
from parley.messaging.models import Message as LiveMessage

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
BEFORE_FOLD = [
    ("messaging", "0001_initial"),
    ("e2ee", "0003_identity_change_announced"),
    ("handsets", "0003_fleethandset_offline_since"),
]


def migrate(targets: list[tuple[str, str]]) -> Any:
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_business_history_moves_and_handset_history_stays(number: PhoneNumber) -> None:
    business = do_create_device(number.e164, business_number=True)
    handset = do_create_device("+919876500002")
    old = migrate(BEFORE_FOLD)
    try:
        device_message = old.get_model("e2ee", "Message")
        models = tuple(
            old.get_model("messaging", m) for m in ("Conversation", "Message", "Envelope")
        )
        Conversation, Message, Envelope = models

        def row(device: Any, n: int, **fields: Any) -> None:
            at = T0 + dt.timedelta(minutes=n)
            defaults = {"peer": "+919876500002", "guid": f"00000000-0000-4000-8000-{n:012d}",
                        "kind": "text", "body": f"m{n}", "client_timestamp": n, "created_at": at,
                        "updated_at": at}  # fmt: skip
            device_message.objects.create(device_id=device.pk, **{**defaults, **fields})

        row(business, 1, direction="in", status="received")
        row(business, 2, direction="out", status="read")
        row(business, 3, direction="out", status="expired")
        row(business, 4, direction="in", status="failed", kind="undecryptable", body="")
        row(business, 5, direction="out", status="sent", kind="media", body="invoice",
            attachment={"id": "ab", "file_name": "i.txt", "mime_type": "text/plain",
                        "file_length": 9})  # fmt: skip
        row(handset, 6, direction="out", status="delivered", peer=number.e164)

        with clock.frozen(T0 + dt.timedelta(days=10)):
            moved = fold_e2ee_history(device_message, models)

        assert moved == 5
        left = device_message.objects.values_list("device__e164", "body")
        assert list(left) == [(handset.e164, "m6")]
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
        envelope = Envelope.objects.get(guid="00000000-0000-4000-8000-000000000002")
        assert envelope.message_id == messages[1].pk
        # Run again (nothing left to move): nothing doubles.
        assert fold_e2ee_history(device_message, models) == 0
        assert Message.objects.count() == 5

        # Forward to today: the fold's migration finds nothing more, the handset's row
        # moves into the phone's own history and the old table goes.
        to_latest()
        assert LiveMessage.objects.count() == 5
        assert list(HandsetMessage.objects.values_list("device", "body", "status")) == [
            (handset.pk, "m6", "delivered")
        ]
        with connection.cursor() as cursor:
            assert "e2ee_message" not in connection.introspection.table_names(cursor)
    finally:
        with connection.cursor() as cursor:
            if "e2ee_message" in connection.introspection.table_names(cursor):
                cursor.execute("DELETE FROM e2ee_message")
        to_latest()


def test_the_migration_is_registered_after_the_tables() -> None:
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    fold = loader.get_migration("messaging", "0002_fold_e2ee_business_history")
    assert ("messaging", "0001_initial") in fold.dependencies
    assert any(app == "e2ee" for app, _ in fold.dependencies)
    # The old table is dropped only after both the fold and the handsets' copy ran.
    drop = loader.get_migration("e2ee", "0004_delete_message")
    assert ("messaging", "0002_fold_e2ee_business_history") in drop.dependencies
    assert ("handsets", "0004_handsetmessage") in drop.dependencies
