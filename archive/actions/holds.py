"""Legal holds: placing one keeps every file holding a matching record (the store's own
legal hold too); releasing it resumes their retention unless another hold still applies.
Both are audited and recorded in the archive itself."""

from __future__ import annotations

import json

from django.db import transaction

from archive.models import ArchiveFile, LegalHold
from archive.selectors import Criteria, CriteriaError, held_file_ids
from archive.storage import get_store
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.events import LegalHoldChanged
from parley.core.publish import publish

MAX_NAME = 120
MAX_REASON = 500


class HoldError(ValueError):
    """The hold cannot be placed or released as asked; the message says why."""


def _scope_of(criteria: Criteria) -> str:
    if criteria.q:
        return LegalHold.Scope.SEARCH
    if criteria.conversation is not None or criteria.message_id:
        return LegalHold.Scope.CONVERSATION
    if criteria.customer:
        return LegalHold.Scope.CUSTOMER
    if criteria.agent is not None:
        return LegalHold.Scope.AGENT
    return LegalHold.Scope.DATE_RANGE


def _sync_store(files: list[ArchiveFile], on: bool) -> None:
    store = get_store()
    for file in files:
        if file.state == ArchiveFile.State.CLOSED:
            store.set_legal_hold(file.name, on)


def do_place_hold(
    business_id: int, *, name: str, criteria: Criteria, reason: str, actor: StaffUser
) -> LegalHold:
    name, reason = name.strip(), reason.strip()
    if not name:
        raise HoldError("Give the hold a name.")
    if len(name) > MAX_NAME or len(reason) > MAX_REASON:
        raise HoldError(
            f"The name is limited to {MAX_NAME} and the reason to {MAX_REASON} characters."
        )
    if criteria.is_empty():
        raise HoldError("A hold needs at least one criterion (customer, agent, dates, …).")
    now = clock.now()
    with transaction.atomic():
        hold = LegalHold.objects.create(
            business_id=business_id,
            name=name,
            reason=reason,
            scope=_scope_of(criteria),
            criteria=criteria.as_json(),
            placed_by=actor,
            placed_at=now,
        )
        files = list(
            ArchiveFile.objects.select_for_update()
            .filter(pk__in=held_file_ids(business_id))
            .exclude(state=ArchiveFile.State.PURGED)
        )
        newly = [f for f in files if not f.legal_hold]
        ArchiveFile.objects.filter(pk__in=[f.pk for f in newly]).update(legal_hold=True)
        _sync_store(newly, True)
        do_record_audit(
            "archive.hold_placed",
            business_id=business_id,
            actor=actor,
            target=f"legal hold {hold.pk}",
            details={"name": name, "criteria": hold.criteria, "files": len(files)},
        )
        publish(_event(hold, "placed", actor))
    return hold


def do_release_hold(business_id: int, hold_id: int, *, reason: str, actor: StaffUser) -> LegalHold:
    reason = reason.strip()
    if not reason:
        raise HoldError("Say why the hold is released.")
    if len(reason) > MAX_REASON:
        raise HoldError(f"The reason is limited to {MAX_REASON} characters.")
    with transaction.atomic():
        hold = (
            LegalHold.objects.select_for_update()
            .filter(business_id=business_id, pk=hold_id)
            .first()
        )
        if hold is None:
            raise HoldError("No such legal hold.")
        if hold.released_at is not None:
            raise HoldError("This hold was already released.")
        hold.released_at, hold.released_by, hold.release_reason = clock.now(), actor, reason
        hold.save(update_fields=["released_at", "released_by", "release_reason"])
        still = held_file_ids(business_id)
        freed = list(
            ArchiveFile.objects.select_for_update()
            .filter(business_id=business_id, legal_hold=True)
            .exclude(pk__in=still)
        )
        ArchiveFile.objects.filter(pk__in=[f.pk for f in freed]).update(legal_hold=False)
        _sync_store(freed, False)
        do_record_audit(
            "archive.hold_released",
            business_id=business_id,
            actor=actor,
            target=f"legal hold {hold.pk}",
            details={"name": hold.name, "reason": reason, "files_freed": len(freed)},
        )
        publish(_event(hold, "released", actor))
    return hold


def _event(hold: LegalHold, change: str, actor: StaffUser) -> LegalHoldChanged:
    return LegalHoldChanged(
        business_id=hold.business_id,
        occurred_at=hold.released_at
        if change == "released" and hold.released_at
        else hold.placed_at,
        hold_id=hold.pk,
        hold_name=hold.name,
        change=change,
        scope=hold.scope,
        criteria_json=json.dumps(hold.criteria, sort_keys=True),
        actor=actor.email,
        reason=hold.release_reason if change == "released" else hold.reason,
    )


__all__ = ["CriteriaError", "HoldError", "do_place_hold", "do_release_hold"]
