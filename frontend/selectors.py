"""Reads the console needs beyond parley.accounts.selectors: summaries for page headers.
Read-only, scoped to one business."""

from __future__ import annotations

import dataclasses

from django.db.models import Count, QuerySet

from parley.accounts.models import (
    AuditEntry,
    Business,
    NumberVerificationCode,
    PhoneNumber,
    StaffUser,
)
from parley.accounts.roles import Role, may_manage
from parley.core import clock


@dataclasses.dataclass(frozen=True)
class StaffSummary:
    total: int
    active: int
    inactive: int
    by_role: list[tuple[Role, int]]  # active accounts per role, in the Role order


def staff_summary(business: Business) -> StaffSummary:
    rows = (
        StaffUser.objects.filter(business=business)
        .values("role", "is_active")
        .annotate(n=Count("id"))
        .order_by()
    )
    active_by_role = {r: 0 for r in Role}
    active = inactive = 0
    for row in rows:
        if row["is_active"]:
            active += row["n"]
            active_by_role[Role(row["role"])] += row["n"]
        else:
            inactive += row["n"]
    return StaffSummary(active + inactive, active, inactive, list(active_by_role.items()))


def manageable_ids(actor: StaffUser, staff: QuerySet[StaffUser]) -> list[int]:
    """The ids among `staff` the actor may change (never their own account)."""
    return [
        pk
        for pk, role in staff.values_list("pk", "role")
        if pk != actor.pk and may_manage(actor.role, role)
    ]


def code_awaiting_delivery(number: PhoneNumber) -> bool:
    """A code was requested and the simulated carrier has not delivered it yet."""
    return NumberVerificationCode.objects.filter(
        number=number, delivered_at=None, used_at=None, expires_at__gt=clock.now()
    ).exists()


def audit_action_names(business: Business) -> list[str]:
    """Distinct action names in this business's log, and their prefixes ("staff.")."""
    names = set(
        AuditEntry.objects.filter(business_ref=business.pk)
        .values_list("action", flat=True)
        .distinct()
        .order_by()
    )
    prefixes = {n.split(".", 1)[0] + "." for n in names if "." in n}
    return sorted(prefixes | names)
