"""The tamper-evident audit log: append, verify, purge by retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import transaction

from parley.accounts.models import AuditChainHead, AuditEntry, StaffUser
from parley.core import clock
from parley.core.events import AuditRecorded
from parley.core.publish import publish

GENESIS = "0" * 64


def _entry_digest(
    *,
    prev_hash: str,
    seq: int,
    business_ref: int | None,
    actor_ref: int | None,
    actor_label: str,
    action: str,
    target: str,
    details: dict[str, Any],
    ip_address: str | None,
    created_at: dt.datetime,
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "business": business_ref,
            "actor": actor_ref,
            "actor_label": actor_label,
            "action": action,
            "target": target,
            "details": details,
            "ip": ip_address,
            "at": created_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def digest_of(entry: AuditEntry) -> str:
    return _entry_digest(
        prev_hash=entry.prev_hash,
        seq=entry.seq,
        business_ref=entry.business_ref,
        actor_ref=entry.actor_ref,
        actor_label=entry.actor_label,
        action=entry.action,
        target=entry.target,
        details=entry.details,
        ip_address=entry.ip_address,
        created_at=entry.created_at,
    )


def do_record_audit(
    action: str,
    *,
    business_id: int | None,
    actor: StaffUser | None = None,
    actor_label: str = "",
    target: str = "",
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    """Append one entry. The chain head row is locked so concurrent appends serialise."""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        seq = head.last_seq + 1
        created_at = clock.now()
        # Round-trip through JSON so the hashed form is exactly the stored form.
        clean_details = json.loads(json.dumps(details or {}, default=str))
        label = actor_label or (actor.email if actor else "system")
        fields: dict[str, Any] = {
            "seq": seq,
            "business_ref": business_id,
            "actor_ref": actor.pk if actor else None,
            "actor_label": label,
            "action": action,
            "target": target,
            "details": clean_details,
            "ip_address": ip_address,
            "created_at": created_at,
        }
        entry_hash = _entry_digest(prev_hash=head.last_hash, **fields)
        entry = AuditEntry.objects.create(prev_hash=head.last_hash, entry_hash=entry_hash, **fields)
        head.last_seq, head.last_hash = seq, entry_hash
        head.save(update_fields=["last_seq", "last_hash"])
        if business_id is not None:
            publish(
                AuditRecorded(
                    business_id=business_id,
                    occurred_at=created_at,
                    entry_id=entry.pk,
                    action=action,
                    actor=label,
                    target=target,
                )
            )
    return entry


@dataclasses.dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify_chain(batch_size: int = 2000) -> ChainReport:
    """Walk the chain from its (possibly purged) start; name the first broken entry."""
    head = AuditChainHead.objects.filter(id=1).first()
    expected_prev = head.purged_through_hash if head else GENESIS
    expected_seq = (head.purged_through_seq if head else 0) + 1
    checked = 0
    last_seq = 0
    while True:
        batch = list(AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq")[:batch_size])
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, "entry missing")
            if entry.prev_hash != expected_prev:
                return ChainReport(False, checked, entry.seq, "link to previous entry broken")
            if digest_of(entry) != entry.entry_hash:
                return ChainReport(False, checked, entry.seq, "entry contents altered")
            expected_prev, expected_seq = entry.entry_hash, entry.seq + 1
            checked += 1
        last_seq = batch[-1].seq
    if head and checked and head.last_hash != expected_prev:
        return ChainReport(False, checked, expected_seq - 1, "chain head does not match")
    return ChainReport(True, checked)


def do_purge_audit_log(*, retention_days: int | None = None) -> int:
    """Delete entries older than the retention period, keeping the chain verifiable by
    remembering the hash of the last entry removed."""
    days = retention_days or settings.PARLEY["AUDIT_RETENTION_DAYS"]
    if not 90 <= days <= 365:
        raise ValueError("audit retention must be between 90 and 365 days")
    cutoff = clock.now() - dt.timedelta(days=days)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        last_old = (
            AuditEntry.objects.filter(created_at__lt=cutoff).order_by("-seq").only("seq").first()
        )
        if last_old is None:
            return 0
        boundary = AuditEntry.objects.get(seq=last_old.seq)
        # Entries are appended in time order, so everything up to the boundary is old.
        deleted, _ = _delete_through(boundary.seq)
        head.purged_through_seq = boundary.seq
        head.purged_through_hash = boundary.entry_hash
        head.save(update_fields=["purged_through_seq", "purged_through_hash"])
    return deleted


def _delete_through(through_seq: int) -> tuple[int, dict[str, int]]:
    # Retention is the one path allowed to remove entries: bypass the append-only queryset.
    from django.db.models.query import QuerySet

    qs = AuditEntry.objects.filter(seq__lte=through_seq)
    return QuerySet.delete(qs)
