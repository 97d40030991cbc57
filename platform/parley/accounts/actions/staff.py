"""Managing staff accounts: create, change roles in bulk, deactivate, reactivate."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability, Role, assignable_roles, may_manage
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.core.events import StaffChanged
from parley.core.publish import publish


def _require_manager(actor: StaffUser) -> None:
    if not (actor.can(Capability.MANAGE_STAFF) or actor.can(Capability.MANAGE_AGENTS)):
        raise PermissionDenied("You may not manage staff accounts.")


def _check_role(actor: StaffUser, role: str) -> Role:
    try:
        wanted = Role(role)
    except ValueError as exc:
        raise InvalidParameter(f"Unknown role '{role}'.", field="role") from exc
    if wanted not in assignable_roles(actor.role):
        raise PermissionDenied(
            f"You may not give anyone the role {wanted.label}: it is above what you may assign.",
        )
    return wanted


def do_create_staff(
    actor: StaffUser,
    *,
    email: str,
    full_name: str,
    role: str,
    password: str,
    ip_address: str | None = None,
) -> StaffUser:
    _require_manager(actor)
    wanted = _check_role(actor, role)
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidParameter("Enter a valid email address.", field="email") from exc
    if not full_name.strip():
        raise InvalidParameter("Enter a name.", field="full_name")
    try:
        validate_password(password)
    except ValidationError as exc:
        raise InvalidParameter(" ".join(exc.messages), field="password") from exc
    try:
        with transaction.atomic():
            user = StaffUser.objects.create_user(
                email,
                password,
                business=actor.business,
                full_name=full_name.strip(),
                role=wanted.value,
                created_at=clock.now(),
            )
            do_record_audit(
                "staff.created",
                business_id=actor.business_id,
                actor=actor,
                target=user.email,
                details={"role": wanted.value},
                ip_address=ip_address,
            )
            publish(
                StaffChanged(
                    business_id=actor.business_id,
                    occurred_at=clock.now(),
                    user_ids=(user.pk,),
                    change="created",
                )
            )
    except IntegrityError as exc:
        raise Conflict("An account with this email address already exists.", field="email") from exc
    return user


def _targets(actor: StaffUser, user_ids: Iterable[int]) -> list[StaffUser]:
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        raise InvalidParameter("Select at least one account.")
    users = list(
        StaffUser.objects.select_for_update().filter(business_id=actor.business_id, pk__in=ids)
    )
    if len(users) != len(ids):
        # Another tenant's ids and unknown ids look the same.
        raise NotFound("One or more selected accounts do not exist.")
    for user in users:
        if user.pk == actor.pk:
            raise PermissionDenied("You may not change your own account this way.")
        if not may_manage(actor.role, user.role):
            raise PermissionDenied(f"You may not manage {user.email}.")
    return users


def do_change_roles(
    actor: StaffUser, user_ids: Iterable[int], role: str, *, ip_address: str | None = None
) -> int:
    """Give every selected account `role`. All or nothing."""
    _require_manager(actor)
    wanted = _check_role(actor, role)
    with transaction.atomic():
        users = _targets(actor, user_ids)
        changed = [u for u in users if u.role != wanted.value]
        for user in changed:
            do_record_audit(
                "staff.role_changed",
                business_id=actor.business_id,
                actor=actor,
                target=user.email,
                details={"from": user.role, "to": wanted.value},
                ip_address=ip_address,
            )
        StaffUser.objects.filter(pk__in=[u.pk for u in changed]).update(role=wanted.value)
        if changed:
            publish(
                StaffChanged(
                    business_id=actor.business_id,
                    occurred_at=clock.now(),
                    user_ids=tuple(u.pk for u in changed),
                    change=f"role:{wanted.value}",
                )
            )
    return len(changed)


def do_set_active(
    actor: StaffUser, user_ids: Iterable[int], active: bool, *, ip_address: str | None = None
) -> int:
    """Deactivate (or reactivate) accounts. Deactivation ends their sessions and devices."""
    _require_manager(actor)
    now = clock.now()
    with transaction.atomic():
        users = _targets(actor, user_ids)
        changed = [u for u in users if u.is_active != active]
        for user in changed:
            do_record_audit(
                "staff.reactivated" if active else "staff.deactivated",
                business_id=actor.business_id,
                actor=actor,
                target=user.email,
                ip_address=ip_address,
            )
        ids = [u.pk for u in changed]
        StaffUser.objects.filter(pk__in=ids).update(
            is_active=active, deactivated_at=None if active else now
        )
        if not active:
            from parley.accounts.models import TrustedDevice

            TrustedDevice.objects.filter(user_id__in=ids, revoked_at=None).update(revoked_at=now)
        if changed:
            publish(
                StaffChanged(
                    business_id=actor.business_id,
                    occurred_at=now,
                    user_ids=tuple(ids),
                    change="reactivated" if active else "deactivated",
                )
            )
    return len(changed)
