"""The migrations that move a handset's history out of the e2ee app (handsets 0004 copies,
e2ee 0004 drops the old table), run on a database with old rows in it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from e2ee.actions import do_create_device
from e2ee.handsets.models import HandsetMessage
from e2ee.models import LocalDevice
from e2ee.store import DjangoDeviceState
from parley.core import clock
from parley.messaging.models import Message as BusinessMessage
from tests.e2ee.conftest import Tenant

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
BEFORE = [
    ("e2ee", "0003_identity_change_announced"),
    ("handsets", "0003_fleethandset_offline_since"),
    ("messaging", "0001_initial"),
]


def migrate(targets: list[tuple[str, str]]) -> Any:
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.mark.django_db(transaction=True)
def test_migration_moves_handset_history_and_refuses_to_drop_what_it_cannot_place(
    tenant: Tenant,
) -> None:
    alice = do_create_device("+919876500020")
    bob = do_create_device("+919876500021")
    shop = do_create_device(tenant.number.e164, business_number=True)
    old = migrate(BEFORE)
    try:
        assert "handsets_handsetmessage" not in tables()
        device_message = old.get_model("e2ee", "Message")

        def row(device: LocalDevice, n: int, minute: int, **fields: Any) -> None:
            at = T0 + dt.timedelta(minutes=minute)
            values = {"direction": "out", "peer": tenant.number.e164, "peer_device_id": 1,
                      "guid": f"00000000-0000-4000-8000-{n:012d}", "kind": "text",
                      "body": f"m{n}", "attachment": None, "status": "sent",
                      "client_timestamp": 1000 + n, "created_at": at,
                      "updated_at": at + dt.timedelta(seconds=5)}  # fmt: skip
            device_message.objects.create(device_id=device.pk, **{**values, **fields})

        # Written out of time order: the phone shows its history by time.
        row(alice, 1, 3, status="read")
        row(alice, 2, 1, direction="in", status="received", body="hello alice",
            peer_device_id=2)  # fmt: skip
        pdf = {"id": "ab", "file_name": "i.txt", "pointer": {"media_type": "DOCUMENT"}}
        row(alice, 3, 2, kind="media", body="invoice", status="delivered", attachment=pdf)
        row(alice, 4, 4, direction="in", status="failed", kind="undecryptable", body="")
        row(bob, 5, 1, peer="+919876500020", body="hi alice")
        row(shop, 6, 5, direction="in", status="received", peer=alice.e164, body="for the shop")

        to_latest()

        assert "e2ee_message" not in tables()
        state = DjangoDeviceState(LocalDevice.objects.get(pk=alice.pk))
        assert [(m.guid[-1], m.direction, m.kind, m.body, m.status, m.peer_device_id,
                 m.client_timestamp) for m in state.list_messages()] == [
            ("2", "in", "text", "hello alice", "received", 2, 1002),
            ("3", "out", "media", "invoice", "delivered", 1, 1003),
            ("1", "out", "text", "m1", "read", 1, 1001),
            ("4", "in", "undecryptable", "", "failed", 1, 1004),
        ]  # fmt: skip
        media = HandsetMessage.objects.get(guid__endswith="3")
        assert media.attachment == pdf
        assert (media.created_at, media.updated_at) == (
            T0 + dt.timedelta(minutes=2),
            T0 + dt.timedelta(minutes=2, seconds=5),
        )
        assert [m.body for m in DjangoDeviceState(bob).list_messages()] == ["hi alice"]
        # The business number's row went to messaging (the fold), not to a phone.
        assert not HandsetMessage.objects.filter(device=shop).exists()
        assert [m.preview for m in BusinessMessage.objects.filter(business=tenant.business)] == [
            "for the shop"
        ]
        # A receipt still finds a moved message.
        assert state.set_message_status("00000000-0000-4000-8000-000000000003", "read")
        assert HandsetMessage.objects.get(guid__endswith="3").status == "read"

        # Backwards, the rows go back to the old table; forwards again, they return.
        old = migrate([("handsets", "0003_fleethandset_offline_since")])
        device_message = old.get_model("e2ee", "Message")
        assert "handsets_handsetmessage" not in tables()
        assert sorted(device_message.objects.values_list("body", flat=True)) == sorted(
            ["hello alice", "invoice", "m1", "", "hi alice"]
        )
        to_latest()
        assert HandsetMessage.objects.count() == 5

        # A row neither app can place (a business device without its number) is not dropped.
        migrate([("handsets", "0003_fleethandset_offline_since")])
        orphan = LocalDevice.objects.create(
            owner=LocalDevice.Owner.BUSINESS, e164="+14155550999", business=tenant.business,
            phone_number=None, registration_id=1, identity_public=b"\x05" * 33,
            identity_private_encrypted="x", created_at=clock.now(),
        )  # fmt: skip
        row(orphan, 7, 6)
        with pytest.raises(RuntimeError, match=r"1 message\(s\) of e2ee.Message were moved"):
            to_latest()
        assert "e2ee_message" in tables()
        assert device_message.objects.filter(device_id=orphan.pk).count() == 1
    finally:
        if "e2ee_message" in tables():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM e2ee_message")
        to_latest()
    assert "e2ee_message" not in tables()
