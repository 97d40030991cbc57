"""Selectors: reads scoped to one business, no side effects."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet

from parley.accounts.models import (
    ApiToken,
    AuditEntry,
    Business,
    BusinessProfile,
    NumberVerificationCode,
    PhoneNumber,
    StaffUser,
    TrustedDevice,
)
from parley.accounts.roles import Role
from parley.core import clock
from parley.core.crypto import decrypt_text
from parley.core.errors import NotFound


def list_staff(
    business: Business, *, query: str = "", role: str = "", status: str = ""
) -> QuerySet[StaffUser]:
    qs = StaffUser.objects.filter(business=business)
    if query.strip():
        q = query.strip()
        qs = qs.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    if role in {r.value for r in Role}:
        qs = qs.filter(role=role)
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    return qs.order_by("full_name", "email")


def count_staff_by_role(business: Business) -> dict[str, int]:
    counts = {r.value: 0 for r in Role}
    for role in StaffUser.objects.filter(business=business, is_active=True).values_list(
        "role", flat=True
    ):
        counts[role] += 1
    return counts


def list_api_tokens(business: Business) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(business=business).select_related("created_by")


def list_numbers(business: Business) -> QuerySet[PhoneNumber]:
    return PhoneNumber.objects.filter(business=business).select_related("business")


def get_number(business: Business, number_id: int | str) -> PhoneNumber:
    try:
        pk = int(number_id)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"Unsupported request - object '{number_id}' does not exist.") from exc
    number = PhoneNumber.objects.filter(business=business, pk=pk).select_related("business").first()
    if number is None:
        raise NotFound(f"Unsupported request - object '{number_id}' does not exist.")
    return number


def get_business_profile(number: PhoneNumber) -> BusinessProfile:
    """The number's business profile; an empty, unsaved one when it has never been set."""
    profile = BusinessProfile.objects.filter(number=number).first()
    return profile if profile is not None else BusinessProfile(number=number)


def business_profile_fields(profile: BusinessProfile) -> dict[str, Any]:
    """The profile's set fields (empty ones left out), without the picture."""
    values: dict[str, Any] = {
        "about": profile.about,
        "address": profile.address,
        "description": profile.description,
        "email": profile.email,
        "vertical": profile.vertical,
        "websites": list(profile.websites or []),
    }
    return {k: v for k, v in values.items() if v}


def read_profile_picture(profile: BusinessProfile) -> tuple[bytes, str] | None:
    """The stored profile picture's bytes and MIME type, or None when there is none."""
    if not profile.profile_picture_name:
        return None
    try:
        with default_storage.open(profile.profile_picture_name, "rb") as stored:
            return bytes(stored.read()), profile.profile_picture_mime_type
    except FileNotFoundError:
        return None


def get_simulated_inbox(number: PhoneNumber) -> list[dict[str, object]]:
    """Registration codes the simulated carrier delivered to this number, newest first."""
    now = clock.now()
    return [
        {
            "code": decrypt_text(c.code_encrypted),
            "method": c.method,
            "delivered_at": c.delivered_at,
            "valid": c.used_at is None and c.expires_at > now,
        }
        for c in NumberVerificationCode.objects.filter(number=number, delivered_at__isnull=False)[
            :5
        ]
    ]


def list_audit_entries(business: Business, *, action: str = "") -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.filter(business_ref=business.pk)
    if action:
        qs = qs.filter(action__startswith=action)
    return qs.order_by("-seq")


def list_devices(user: StaffUser) -> QuerySet[TrustedDevice]:
    return TrustedDevice.objects.filter(user=user, revoked_at=None, expires_at__gt=clock.now())
