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
# The chain of entries that belong to no business; a business's chain is its id.
INSTALLATION_CHAIN = 0


def chain_of(business_id: int | None) -> int:
    return business_id if business_id is not None else INSTALLATION_CHAIN


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
    """Append one entry to its business's chain (or the installation's). That chain's head
    row is locked so appends to one chain serialise; other chains are not touched."""
    chain = chain_of(business_id)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=chain)
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
        entry = AuditEntry.objects.create(
            chain=chain, prev_hash=head.last_hash, entry_hash=entry_hash, **fields
        )
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
    chain: int | None = None  # the chain verified (or the broken one); None: every chain

    @property
    def chain_name(self) -> str:
        if self.chain is None:
            return "every chain"
        return "the installation" if self.chain == INSTALLATION_CHAIN else f"business {self.chain}"


def list_chains() -> list[int]:
    """Every chain that has a head or an entry."""
    heads = set(AuditChainHead.objects.values_list("id", flat=True))
    return sorted(heads | set(AuditEntry.objects.values_list("chain", flat=True).distinct()))


def _verify_one(chain: int, batch_size: int) -> ChainReport:
    head = AuditChainHead.objects.filter(id=chain).first()
    expected_prev = head.purged_through_hash if head else GENESIS
    expected_seq = (head.purged_through_seq if head else 0) + 1
    checked = 0
    last_seq = 0
    entries = AuditEntry.objects.filter(chain=chain)
    while True:
        batch = list(entries.filter(seq__gt=last_seq).order_by("seq")[:batch_size])
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, "entry missing", chain)
            if entry.prev_hash != expected_prev:
                return ChainReport(
                    False, checked, entry.seq, "link to previous entry broken", chain
                )
            if digest_of(entry) != entry.entry_hash or chain_of(entry.business_ref) != chain:
                return ChainReport(False, checked, entry.seq, "entry contents altered", chain)
            expected_prev, expected_seq = entry.entry_hash, entry.seq + 1
            checked += 1
        last_seq = batch[-1].seq
    if head and head.last_hash != expected_prev:
        # The newest entries are gone (or the head was edited).
        return ChainReport(False, checked, expected_seq, "chain head does not match", chain)
    return ChainReport(True, checked, chain=chain)


def verify_chain(business_id: int | None = None, *, batch_size: int = 2000) -> ChainReport:
    """Walk one business's chain from its (possibly purged) start, or every chain when no
    business is given; name the first broken entry (and its chain)."""
    if business_id is not None:
        return _verify_one(chain_of(business_id), batch_size)
    checked = 0
    for chain in list_chains():
        report = _verify_one(chain, batch_size)
        if not report.ok:
            return dataclasses.replace(report, checked=checked + report.checked)
        checked += report.checked
    return ChainReport(True, checked)


def do_purge_audit_log(*, retention_days: int | None = None) -> int:
    """Delete entries older than the retention period from every chain, keeping each chain
    verifiable by remembering the hash of the last entry removed from it."""
    days = retention_days or settings.PARLEY["AUDIT_RETENTION_DAYS"]
    if not 90 <= days <= 365:
        raise ValueError("audit retention must be between 90 and 365 days")
    cutoff = clock.now() - dt.timedelta(days=days)
    deleted = 0
    old_chains = AuditEntry.objects.filter(created_at__lt=cutoff).values_list("chain", flat=True)
    for chain in sorted(set(old_chains)):
        deleted += _purge_chain(chain, cutoff)
    return deleted


def _purge_chain(chain: int, cutoff: dt.datetime) -> int:
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=chain)
        boundary = (
            AuditEntry.objects.filter(chain=chain, created_at__lt=cutoff)
            .order_by("-seq")
            .only("seq", "entry_hash")
            .first()
        )
        if boundary is None:
            return 0
        # Entries are appended in time order, so everything up to the boundary is old.
        deleted, _ = _delete_through(chain, boundary.seq)
        head.purged_through_seq = boundary.seq
        head.purged_through_hash = boundary.entry_hash
        head.save(update_fields=["purged_through_seq", "purged_through_hash"])
    return deleted


def _delete_through(chain: int, through_seq: int) -> tuple[int, dict[str, int]]:
    # Retention is the one path allowed to remove entries: bypass the append-only queryset.
    from django.db.models.query import QuerySet

    qs = AuditEntry.objects.filter(chain=chain, seq__lte=through_seq)
    return QuerySet.delete(qs)
