"""The permission matrix, the rank rule and bulk staff management."""

from pathlib import Path

import pytest

from parley.accounts.actions.staff import do_change_roles, do_create_staff, do_set_active
from parley.accounts.models import AuditEntry, StaffUser
from parley.accounts.roles import (
    MATRIX,
    Capability,
    Role,
    assignable_roles,
    capabilities_of,
    matrix_markdown,
    may_manage,
)
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_carries_the_matrix_the_code_enforces() -> None:
    text = README.read_text()
    assert matrix_markdown() in text, "README's permission matrix is out of date"


@pytest.mark.parametrize("role", list(Role))
def test_who_reads_conversation_content(role: Role) -> None:
    # Administrators manage metadata only; compliance officers read content only through
    # the archive.
    may_read = Capability.READ_CONVERSATIONS in capabilities_of(role)
    assert may_read == (role in {Role.SUPERVISOR, Role.AGENT, Role.DEVELOPER})


def test_only_compliance_officers_see_the_archive() -> None:
    assert MATRIX[Capability.VIEW_ARCHIVE] == {Role.COMPLIANCE_OFFICER}


def test_agents_never_see_billing_tokens_or_the_audit_log() -> None:
    agent = capabilities_of(Role.AGENT)
    assert agent == {Capability.READ_CONVERSATIONS, Capability.SEND_MESSAGES}


def test_rank_rule() -> None:
    assert Role.ADMINISTRATOR in assignable_roles(Role.ADMINISTRATOR)
    assert assignable_roles(Role.SUPERVISOR) == [Role.AGENT]
    assert assignable_roles(Role.AGENT) == []
    assert assignable_roles(Role.DEVELOPER) == []
    assert not may_manage(Role.SUPERVISOR, Role.DEVELOPER)
    assert may_manage(Role.SUPERVISOR, Role.AGENT)


pytestmark = pytest.mark.django_db


@pytest.fixture
def team(factory):
    business = factory.business()
    return {
        "business": business,
        "admin": factory.staff(business, "administrator"),
        "supervisor": factory.staff(business, "supervisor"),
        "agents": [factory.staff(business, "agent") for _ in range(3)],
    }


def test_create_staff_validates_and_audits(team) -> None:
    admin = team["admin"]
    user = do_create_staff(
        admin, email=" New@Example.com ", full_name="New Person", role="developer",
        password="a-long-enough-password",
    )  # fmt: skip
    assert user.email == "new@example.com"
    assert user.business == admin.business
    assert AuditEntry.objects.filter(action="staff.created", target=user.email).exists()
    with pytest.raises(Conflict):
        do_create_staff(admin, email="new@example.com", full_name="X", role="agent",
                        password="a-long-enough-password")  # fmt: skip
    with pytest.raises(InvalidParameter) as bad:
        do_create_staff(admin, email="not-an-email", full_name="X", role="agent",
                        password="a-long-enough-password")  # fmt: skip
    assert bad.value.field == "email"
    with pytest.raises(InvalidParameter) as weak:
        do_create_staff(admin, email="w@example.com", full_name="X", role="agent", password="123")
    assert weak.value.field == "password"
    assert not StaffUser.objects.filter(email__in=["not-an-email", "w@example.com"]).exists()


def test_supervisors_create_agents_only(team) -> None:
    sup = team["supervisor"]
    do_create_staff(sup, email="a@example.com", full_name="A", role="agent",
                    password="a-long-enough-password")  # fmt: skip
    for role in ("administrator", "supervisor", "developer", "compliance_officer"):
        with pytest.raises(PermissionDenied):
            do_create_staff(sup, email=f"{role}@example.com", full_name="X", role=role,
                            password="a-long-enough-password")  # fmt: skip


def test_nobody_raises_anyone_above_their_own_role(team) -> None:
    sup = team["supervisor"]
    agent = team["agents"][0]
    with pytest.raises(PermissionDenied):
        do_change_roles(sup, [agent.pk], "administrator")
    with pytest.raises(PermissionDenied):
        do_change_roles(sup, [agent.pk], "supervisor")
    with pytest.raises(PermissionDenied):
        do_change_roles(agent, [team["agents"][1].pk], "agent")
    # Not even themselves.
    with pytest.raises(PermissionDenied):
        do_change_roles(sup, [sup.pk], "administrator")
    with pytest.raises(PermissionDenied):
        do_change_roles(team["admin"], [team["admin"].pk], "agent")
    agent.refresh_from_db()
    assert agent.role == "agent"


def test_supervisors_cannot_touch_non_agents(team, factory) -> None:
    dev = factory.staff(team["business"], "developer")
    with pytest.raises(PermissionDenied):
        do_set_active(team["supervisor"], [dev.pk], False)
    dev.refresh_from_db()
    assert dev.is_active


def test_bulk_role_change_is_all_or_nothing(team, factory) -> None:
    admin = team["admin"]
    other_business_user = factory.staff(factory.business("Other"), "agent")
    ids = [a.pk for a in team["agents"]] + [other_business_user.pk]
    with pytest.raises(NotFound):
        do_change_roles(admin, ids, "supervisor")
    assert StaffUser.objects.filter(role="supervisor").count() == 1  # unchanged
    other_business_user.refresh_from_db()
    assert other_business_user.role == "agent"


def test_bulk_change_of_120_accounts(factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    staff = [factory.staff(business, "agent", enrolled=False) for _ in range(120)]
    changed = do_change_roles(admin, [u.pk for u in staff], "supervisor")
    assert changed == 120
    assert StaffUser.objects.filter(business=business, role="supervisor").count() == 120
    entries = AuditEntry.objects.filter(action="staff.role_changed", business_ref=business.pk)
    assert entries.count() == 120
    assert entries.get(target=staff[0].email).details == {"from": "agent", "to": "supervisor"}
    assert do_set_active(admin, [u.pk for u in staff[:50]], False) == 50
    assert StaffUser.objects.filter(business=business, is_active=False).count() == 50


def test_administrators_cannot_demote_or_deactivate_themselves(team) -> None:
    # So a business always keeps the administrator who is acting.
    with pytest.raises(PermissionDenied):
        do_set_active(team["admin"], [team["admin"].pk], False)
    with pytest.raises(PermissionDenied):
        do_change_roles(team["admin"], [team["admin"].pk], "supervisor")


def test_deactivated_staff_cannot_log_in_and_lose_devices(team) -> None:
    from parley.accounts.actions.login import do_check_password, do_verify_second_factor
    from parley.core.errors import AuthenticationFailed
    from tests.conftest import PASSWORD, totp_now

    agent = team["agents"][0]
    do_verify_second_factor(agent, totp_now(agent), ip_address=None)
    do_set_active(team["admin"], [agent.pk], False)
    assert agent.devices.filter(revoked_at=None).count() == 0
    with pytest.raises(AuthenticationFailed):
        do_check_password(agent.email, PASSWORD, ip_address=None, device_token=None)
    assert AuditEntry.objects.filter(action="staff.deactivated", target=agent.email).exists()
    failure = AuditEntry.objects.filter(action="login.failed", target=agent.email).get()
    assert failure.details["reason"] == "inactive account"
