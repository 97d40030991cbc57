"""Retention policies and the purge. A policy applies to files closed after it is set; a
longer period also extends the files already closed under the old one, and no change ever
shortens a closed file's retention (compliance mode forbids it; governance files keep
their date too, so a policy change is never a way to delete). The purge runs on the
simulation clock and never touches a file under a legal hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from archive.models import ArchiveFile, ArchiveRecord, RetentionMode, RetentionPolicy
from archive.retention import CUSTOM, MAX_YEARS, PRESETS, retain_until
from archive.selectors import held_file_ids
from archive.storage import RetentionLocked, get_store
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import PhoneNumber, StaffUser
from parley.core import clock


class PolicyError(ValueError):
    """The policy is not valid; the message says which field and why."""


def _period(preset: str, years: int | None, days: int | None) -> tuple[int, int]:
    if preset == CUSTOM:
        if years is None and days is None:
            raise PolicyError("A custom policy needs years or days.")
        y, d = years or 0, days or 0
        if y < 0 or d < 0 or y > MAX_YEARS or d > 366 * MAX_YEARS:
            raise PolicyError(f"Years must be 0 to {MAX_YEARS} and days not negative.")
        if y == 0 and d == 0:
            raise PolicyError("A retention period must be longer than zero.")
        return y, d
    known = PRESETS.get(preset)
    if known is None:
        raise PolicyError(f"Unknown preset {preset!r}.")
    return known.years, 0


def do_set_retention_policy(
    business_id: int,
    *,
    preset: str,
    mode: str,
    actor: StaffUser,
    number_id: int | None = None,
    years: int | None = None,
    days: int | None = None,
) -> RetentionPolicy:
    if mode not in RetentionMode.values:
        raise PolicyError("Mode must be GOVERNANCE or COMPLIANCE.")
    y, d = _period(preset, years, days)
    if (
        number_id is not None
        and not PhoneNumber.objects.filter(business_id=business_id, pk=number_id).exists()
    ):
        raise PolicyError("No such phone number in this business.")
    now = clock.now()
    with transaction.atomic():
        policy = (
            RetentionPolicy.objects.select_for_update()
            .filter(business_id=business_id, number_id=number_id)
            .first()
        )
        before: dict[str, Any] = {}
        if policy is None:
            policy = RetentionPolicy(business_id=business_id, number_id=number_id, created_at=now)
        else:
            before = {"preset": policy.preset, "years": policy.years, "days": policy.days,
                      "mode": policy.mode}  # fmt: skip
        policy.preset, policy.years, policy.days, policy.mode = preset, y, d, mode
        policy.updated_at = now
        policy.save()
        extended = _extend_closed(policy, y, d)
        do_record_audit(
            "archive.policy_set",
            business_id=business_id,
            actor=actor,
            target=f"retention policy {policy.pk}",
            details={
                "number_id": number_id,
                "before": before,
                "after": {"preset": preset, "years": y, "days": d, "mode": mode},
                "files_extended": extended,
            },
        )
    return policy


def _extend_closed(policy: RetentionPolicy, years: int, days: int) -> int:
    """Lengthen the retention of files closed under this policy when the new period is
    longer; never shorten it (files closed in compliance mode keep that mode)."""
    store = get_store()
    count = 0
    files = ArchiveFile.objects.select_for_update().filter(
        policy=policy, state=ArchiveFile.State.CLOSED
    )
    for file in files:
        assert file.last_record_at is not None and file.retain_until is not None
        later = retain_until(file.last_record_at, years=years, days=days)
        if later <= file.retain_until:
            continue
        store.extend_retention(file.name, later, file.mode, now=clock.now())  # type: ignore[arg-type]
        file.retain_until = later
        file.save(update_fields=["retain_until"])
        count += 1
    return count


def do_purge_expired(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Delete files whose retention has passed and that no legal hold keeps. The file's
    manifest stays, so the chain still verifies; its records leave the index."""
    now = now or clock.now()
    store = get_store()
    purged = 0
    due = list(
        ArchiveFile.objects.filter(
            state=ArchiveFile.State.CLOSED, retain_until__lte=now, legal_hold=False
        ).values_list("pk", "business_id")[:limit]
    )
    for pk, business_id in due:
        if pk in held_file_ids(business_id, [pk]):
            ArchiveFile.objects.filter(pk=pk).update(legal_hold=True)
            continue
        with transaction.atomic():
            file = ArchiveFile.objects.select_for_update().get(pk=pk)
            if file.state != ArchiveFile.State.CLOSED or file.legal_hold:
                continue
            try:
                store.delete(
                    file.name, now=now, bypass_governance=file.mode == RetentionMode.GOVERNANCE
                )
            except RetentionLocked as locked:
                # The store's own lock (real time) still holds it: try again on a later pass.
                if file.purge_blocked != str(locked)[:300]:
                    file.purge_blocked = str(locked)[:300]
                    file.save(update_fields=["purge_blocked"])
                continue
            records = ArchiveRecord.objects.filter(file=file).delete()[0]
            file.state, file.purged_at, file.purge_blocked = ArchiveFile.State.PURGED, now, ""
            file.save(update_fields=["state", "purged_at", "purge_blocked"])
            do_record_audit(
                "archive.file_purged",
                business_id=business_id,
                actor_label="retention",
                target=file.name,
                details={
                    "records": records,
                    "retain_until": file.retain_until.isoformat() if file.retain_until else "",
                    "retention_class": file.retention_class,
                },
            )
            purged += 1
    return purged
