"""Tenant isolation: another business's ids behave like ids that do not exist."""

from __future__ import annotations

from typing import Any

import pytest

from parley.accounts.models import AuditEntry, NumberVerificationCode, StaffUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(factory: Any, console: Any) -> dict[str, Any]:
    ours, theirs = factory.business("Ours"), factory.business("Theirs")
    admin, other_admin = (
        factory.staff(ours, "administrator"),
        factory.staff(theirs, "administrator"),
    )
    return {
        "admin": admin,
        "agent": factory.staff(ours, "agent"),
        "other_admin": other_admin,
        "other_agent": factory.staff(theirs, "agent", email="secret-agent@theirs.test"),
        "other_number": console.number(other_admin, name="Their Support"),
        "other_token": console.token(other_admin, name="Their CRM").token,
        "other_device": console.device(other_admin),
    }


def test_another_business_number_is_not_found(two: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(two["admin"])
    number = two["other_number"]
    for url in (f"/numbers/{number.pk}/", f"/numbers/{number.pk}/?part=inbox",
                "/numbers/123456789/", "/numbers/999999999999999999/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404, url
        assert number.e164 not in response.content.decode()
        assert "Their Support" not in response.content.decode()
    for step, data in [
        ("request-code", {"code_method": "SMS"}),
        ("verify", {"code": "123456"}),
        ("register", {"pin": "123456"}),
        ("official", {}),
    ]:
        response = client.post(f"/numbers/{number.pk}/{step}/", data)
        assert response.status_code == 404, step
    assert not NumberVerificationCode.objects.exists()
    number.refresh_from_db()
    assert number.status == "PENDING" and number.official_verification == "unverified"
    listing = client.get("/numbers/").content.decode()
    assert number.e164 not in listing


def test_another_business_token_cannot_be_revoked_or_seen(
    two: dict[str, Any], console_client: Any
) -> None:
    client = console_client.as_(two["admin"])
    token = two["other_token"]
    response = client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    assert "No such token." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None
    assert "Their CRM" not in client.get("/tokens/").content.decode()


def test_bulk_action_with_another_tenants_user_changes_nothing(
    two: dict[str, Any], console_client: Any
) -> None:
    client = console_client.as_(two["admin"])
    before = list(StaffUser.objects.order_by("pk").values_list("pk", "role", "is_active"))
    audit_before = AuditEntry.objects.count()
    for operation in ("role:supervisor", "deactivate"):
        response = client.post(
            "/staff/", {"operation": operation, "ids": [two["agent"].pk, two["other_agent"].pk]}
        )
        assert response.status_code == 200
        assert "One or more selected accounts do not exist." in response.content.decode()
        assert "secret-agent@theirs.test" not in response.content.decode()
    assert before == list(StaffUser.objects.order_by("pk").values_list("pk", "role", "is_active"))
    assert AuditEntry.objects.count() == audit_before
    assert "secret-agent@theirs.test" not in client.get("/staff/?q=secret").content.decode()


def test_another_users_device_cannot_be_forgotten(two: dict[str, Any], console_client: Any) -> None:
    device = two["other_device"]
    response = console_client.as_(two["admin"]).post(f"/security/devices/{device.pk}/forget/")
    assert response.status_code == 404
    device.refresh_from_db()
    assert device.revoked_at is None


def test_audit_log_shows_only_this_business(two: dict[str, Any], console_client: Any) -> None:
    html = console_client.as_(two["admin"]).get("/audit/").content.decode()
    assert two["other_admin"].email not in html
    assert two["other_number"].e164 not in html
