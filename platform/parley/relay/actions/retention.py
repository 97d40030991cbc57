"""Thirty days: undelivered envelopes expire (the sender is told), then every piece of relay
metadata older than the retention period is deleted."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction

from parley.core import clock
from parley.core.events import EnvelopeExpired
from parley.core.publish import publish
from parley.relay import conf
from parley.relay.actions.mailbox import queue_receipt
from parley.relay.models import (
    DeliveryRecord,
    Device,
    Envelope,
    IdentityKeyRecord,
    ReceiptKind,
    SignedPreKey,
)

BATCH = 500


def do_expire_envelopes() -> int:
    """Drop envelopes past `expires_at`. For each client message an expiry receipt goes to
    the sender's device and `EnvelopeExpired` is published. Returns how many expired."""
    now = clock.now()
    total = 0
    while True:
        with transaction.atomic():
            batch = list(
                Envelope.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient", "recipient__account")
                .filter(expires_at__lte=now)
                .order_by("id")[:BATCH]
            )
            if not batch:
                return total
            Envelope.objects.filter(pk__in=[e.pk for e in batch]).delete()
            client = [e for e in batch if not e.receipt_kind]
            records = {
                r.guid: r
                for r in DeliveryRecord.objects.select_for_update(of=("self",))
                .select_related("sender_account", "sender_account__phone_number")
                .filter(guid__in=[e.guid for e in client])
            }
            for envelope in client:
                record = records.get(envelope.guid)
                if record is None:
                    continue
                record.expired_at = now
                record.save(update_fields=["expired_at"])
                queue_receipt(
                    record, ReceiptKind.EXPIRED, at=now, from_account=None, from_device_id=None
                )
                publish(
                    EnvelopeExpired(
                        business_id=record.sender_account.business_id,
                        occurred_at=now,
                        guid=str(record.guid),
                        sender_e164=record.sender_account.e164,
                        sender_device_id=record.sender_device_id,
                        recipient_e164=envelope.recipient.account.e164,
                        recipient_device_id=envelope.recipient.device_id,
                    )
                )
            total += len(client)


@dataclasses.dataclass(frozen=True)
class Purged:
    envelopes: int
    delivery_records: int
    identity_records: int
    signed_pre_keys: int
    last_seen_cleared: int


def do_purge_metadata() -> Purged:
    """Delete relay metadata older than the retention period. Expires due envelopes first
    so their senders are told before the rows go."""
    do_expire_envelopes()
    now = clock.now()
    cutoff = now - conf.retention()
    grace = dt.timedelta(days=int(conf.get("RELAY_SIGNED_PREKEY_GRACE_DAYS")))
    with transaction.atomic():
        envelopes, _ = Envelope.objects.filter(server_timestamp__lt=cutoff).delete()
        records, _ = DeliveryRecord.objects.filter(server_timestamp__lt=cutoff).delete()
        identities, _ = IdentityKeyRecord.objects.filter(replaced_at__lt=cutoff).delete()
        signed, _ = SignedPreKey.objects.filter(superseded_at__lt=now - grace).delete()
        seen = Device.objects.filter(last_seen_on__lt=cutoff.date()).update(last_seen_on=None)
    return Purged(envelopes, records, identities, signed, seen)
