"""Thirty days: undelivered envelopes expire with a notice to the sender; metadata is purged.
Time moves through the injected clock, never by sleeping."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from parley.core.events import EnvelopeExpired
from parley.relay import tasks
from parley.relay.actions.retention import do_expire_envelopes, do_purge_metadata
from parley.relay.models import DeliveryRecord, Device, Envelope, IdentityKeyRecord
from tests.parley.relay.conftest import ec_key, register

pytestmark = pytest.mark.django_db


def test_undelivered_envelopes_expire_after_30_days_and_the_sender_is_told(
    handset: Any, frozen_clock: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    guid = alice.send(bob, b"\7" * 32).json()["messages"][0]["guid"]
    frozen_clock.advance(days=29, hours=23)
    assert do_expire_envelopes() == 0
    assert [e["guid"] for e in bob.fetch()] == [guid]
    frozen_clock.advance(hours=2)
    # Past expiry, the envelope is no longer served even before the task runs.
    assert bob.fetch() == []
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_envelopes() == 1
    assert not Envelope.objects.filter(guid=guid).exists()
    (notice,) = alice.fetch()
    assert notice["type"] == 5 and notice["source"] is None
    assert notice["receipt"]["kind"] == "expired" and notice["receipt"]["guid"] == guid
    expired = [e for e in events if isinstance(e, EnvelopeExpired)]
    assert [(e.guid, e.sender_e164, e.recipient_e164) for e in expired] == [
        (guid, alice.number, bob.number)
    ]
    assert expired[0].audience == frozenset()
    assert DeliveryRecord.objects.get(guid=guid).expired_at == frozen_clock.now()
    # Receipts themselves expire silently: no notice about a notice.
    frozen_clock.advance(days=31)
    assert do_expire_envelopes() == 0
    assert alice.fetch() == []


def test_metadata_older_than_30_days_is_purged(
    client: Any, handset: Any, frozen_clock: Any
) -> None:
    alice, bob = handset(), handset()
    old_guid = alice.send(bob, b"\1" * 16).json()["messages"][0]["guid"]
    bob.ack(old_guid)  # delivered: a delivery record and a receipt remain
    register(client, bob.number, identity=ec_key())  # identity history: one replaced row
    frozen_clock.advance(days=20)
    carol = handset()
    recent_guid = carol.send(alice, b"\2" * 16).json()["messages"][0]["guid"]
    frozen_clock.advance(days=11)  # day 31: the first batch is old, the second is not

    purged = tasks.purge_metadata()
    assert purged["delivery_records"] == 1
    assert purged["identity_records"] == 1
    assert set(DeliveryRecord.objects.values_list("guid", flat=True)) == {uuid.UUID(recent_guid)}
    # Alice's delivery receipt (day 0) expired and was dropped; Carol's message remains.
    assert [str(g) for g in Envelope.objects.values_list("guid", flat=True)] == [recent_guid]
    assert IdentityKeyRecord.objects.filter(replaced_at__isnull=False).count() == 0
    # last_seen is day-granular and forgotten after 30 days.
    seen = dict(Device.objects.values_list("account__e164", "last_seen_on"))
    assert seen[alice.number] is None and seen[bob.number] is None
    assert seen[carol.number] == (frozen_clock.now().date() - dt.timedelta(days=11))

    frozen_clock.advance(days=30)
    do_purge_metadata()
    assert not DeliveryRecord.objects.exists()
    # Carol's message expired on the way: only the fresh expiry notice to Carol is left.
    (notice,) = Envelope.objects.all()
    assert notice.receipt_kind == "expired" and str(notice.receipt_guid) == recent_guid
    assert not Device.objects.exclude(last_seen_on=None).exists()
