"""Thirty days: undelivered envelopes expire (the sender is told), then every piece of relay
metadata older than the retention period is deleted (expired verification sessions and
carrier texts as soon as they expire)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction

from parley.core import clock
from parley.relay import conf
from parley.relay.actions.mailbox import notify_undelivered
from parley.relay.models import (
    CarrierSms,
    DeliveryRecord,
    Device,
    Envelope,
    IdentityKeyRecord,
    SignedPreKey,
    VerificationSession,
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
            total += notify_undelivered(batch, at=now)


@dataclasses.dataclass(frozen=True)
class Purged:
    envelopes: int
    delivery_records: int
    identity_records: int
    signed_pre_keys: int
    last_seen_cleared: int
    verification_sessions: int
    sms: int


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
        # Verification sessions and the carrier's texts are useless once expired.
        sessions, _ = VerificationSession.objects.filter(expires_at__lte=now).delete()
        sms, _ = CarrierSms.objects.filter(expires_at__lte=now).delete()
    return Purged(envelopes, records, identities, signed, seen, sessions, sms)
