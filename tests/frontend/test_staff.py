"""The staff directory with 120 accounts: search, filters, pagination, bulk changes, the
create form and the rules on who may change whom."""

from __future__ import annotations

import re
from typing import Any

import pytest

from parley.accounts.models import AuditEntry, StaffUser
from parley.accounts.roles import Role
from tests.frontend.helpers import field_error

pytestmark = pytest.mark.django_db


def _emails(html: str) -> list[str]:
    return re.findall(r'<tr data-email="([^"]+)"', html)


def _checkbox_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)]


@pytest.fixture
def crowd(factory: Any) -> dict[str, Any]:
    """One business with an administrator, a supervisor, 100 agents and 20 developers."""
    business = factory.business()
    admin = factory.staff(business, "administrator", email="boss@acme.test")
    supervisor = factory.staff(business, "supervisor", email="sup@acme.test")
    agents = [
        factory.staff(business, "agent", enrolled=False, email=f"agent{i:03d}@acme.test")
        for i in range(100)
    ]
    developers = [
        factory.staff(business, "developer", enrolled=False, email=f"dev{i:02d}@acme.test")
        for i in range(20)
    ]
    return {
        "business": business,
        "admin": admin,
        "supervisor": supervisor,
        "agents": agents,
        "developers": developers,
    }


def test_directory_pages_by_fifty_and_counts(crowd: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(crowd["admin"])
    first = client.get("/staff/").content.decode()
    assert len(_emails(first)) == 50
    assert "Showing 1\N{EN DASH}50 of 122" in first
    assert "<strong>122</strong> accounts" in first
    assert "Agent: 100" in first and "Developer: 20" in first
    third = client.get("/staff/?page=3").content.decode()
    assert len(_emails(third)) == 22
    all_seen = set()
    for n in (1, 2, 3):
        all_seen |= set(_emails(client.get(f"/staff/?page={n}").content.decode()))
    assert len(all_seen) == 122
    # A page number out of range shows the last page rather than an error.
    assert client.get("/staff/?page=999").status_code == 200
    assert client.get("/staff/?page=abc").status_code == 200


def test_search_and_filters_keep_through_pages(crowd: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(crowd["admin"])
    html = client.get("/staff/?q=agent07").content.decode()
    assert sorted(_emails(html)) == [f"agent07{i}@acme.test" for i in range(10)]
    # Name search, case-insensitive.
    name = crowd["developers"][3].full_name
    assert _emails(client.get("/staff/", {"q": name.upper()}).content.decode()) == [
        crowd["developers"][3].email
    ]
    developers = client.get("/staff/?role=developer").content.decode()
    assert len(_emails(developers)) == 20
    assert all(e.startswith("dev") for e in _emails(developers))
    agents = client.get("/staff/?role=agent").content.decode()
    assert "Showing 1\N{EN DASH}50 of 100 matching" in agents
    # The pager keeps the filter.
    assert 'href="?role=agent&amp;page=2"' in agents
    page2 = client.get("/staff/?role=agent&page=2").content.decode()
    assert len(_emails(page2)) == 50 and all(e.startswith("agent") for e in _emails(page2))
    # An unknown filter value is ignored, not an error.
    assert client.get("/staff/?role=emperor&status=zombie").status_code == 200


def test_bulk_role_change_of_sixty_accounts_in_one_post(
    crowd: dict[str, Any], console_client: Any
) -> None:
    client = console_client.as_(crowd["admin"])
    chosen = [u.pk for u in crowd["agents"][:60]]
    audit_before = AuditEntry.objects.filter(action="staff.role_changed").count()
    response = client.post(
        "/staff/?role=agent", {"operation": "role:supervisor", "ids": chosen}, follow=True
    )
    assert response.status_code == 200
    assert "Role changed to Supervisor for 60 account(s)." in response.content.decode()
    assert response.redirect_chain[-1][0] == "/staff/?role=agent"
    assert StaffUser.objects.filter(pk__in=chosen, role="supervisor").count() == 60
    assert StaffUser.objects.filter(business=crowd["business"], role="agent").count() == 40
    assert AuditEntry.objects.filter(action="staff.role_changed").count() == audit_before + 60


def test_bulk_on_all_matching_accounts_across_pages(
    crowd: dict[str, Any], console_client: Any
) -> None:
    client = console_client.as_(crowd["admin"])
    response = client.post(
        "/staff/?role=developer&status=active",
        {"operation": "deactivate", "all_matching": "on"},
        follow=True,
    )
    assert "Deactivated 20 account(s)." in response.content.decode()
    assert not StaffUser.objects.filter(role="developer", is_active=True).exists()
    assert StaffUser.objects.filter(role="agent", is_active=True).count() == 100


def test_deactivate_and_reactivate(
    crowd: dict[str, Any], factory: Any, console: Any, console_client: Any
) -> None:
    client = console_client.as_(crowd["admin"])
    target = factory.staff(crowd["business"], "developer", email="zz-dev@acme.test")
    device = console.device(target)
    response = client.post("/staff/", {"operation": "deactivate", "ids": [target.pk]}, follow=True)
    assert "Deactivated 1 account(s)." in response.content.decode()
    target.refresh_from_db()
    device.refresh_from_db()
    assert not target.is_active and device.revoked_at is not None
    inactive = client.get("/staff/?status=inactive").content.decode()
    assert "<strong>1</strong> inactive" in inactive
    assert _emails(inactive) == [target.email]
    client.post("/staff/", {"operation": "reactivate", "ids": [target.pk]})
    target.refresh_from_db()
    assert target.is_active


def _nothing_changed(before: list[tuple[int, str, bool]]) -> bool:
    return before == list(StaffUser.objects.order_by("pk").values_list("pk", "role", "is_active"))


def _snapshot() -> list[tuple[int, str, bool]]:
    return list(StaffUser.objects.order_by("pk").values_list("pk", "role", "is_active"))


def test_administrator_cannot_change_their_own_account(
    crowd: dict[str, Any], console_client: Any
) -> None:
    admin = crowd["admin"]
    client = console_client.as_(admin)
    before, audit_before = _snapshot(), AuditEntry.objects.count()
    ids = [admin.pk, crowd["agents"][0].pk]
    for operation in ("role:agent", "deactivate"):
        response = client.post("/staff/", {"operation": operation, "ids": ids})
        assert response.status_code == 200
        assert "You may not change your own account this way." in response.content.decode()
    assert _nothing_changed(before) and AuditEntry.objects.count() == audit_before
    # Their own row has no checkbox.
    assert admin.pk not in _checkbox_ids(client.get("/staff/?q=boss").content.decode())


def test_supervisor_manages_agents_only(crowd: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(crowd["supervisor"])
    html = client.get("/staff/").content.decode()
    # Only "Change role to Agent" is offered, and only agents can be ticked.
    assert "Change role to Agent" in html and "Change role to Supervisor" not in html
    selectable = set(_checkbox_ids(html))
    agent_ids = {u.pk for u in crowd["agents"]}
    assert selectable and selectable <= agent_ids
    before, audit_before = _snapshot(), AuditEntry.objects.count()
    # A role above what a supervisor may give: refused by the form.
    response = client.post(
        "/staff/", {"operation": "role:administrator", "ids": [crowd["agents"][0].pk]}
    )
    assert "Select a valid choice" in response.content.decode()
    # A developer is not theirs to manage, even in a batch with agents.
    response = client.post(
        "/staff/",
        {"operation": "deactivate", "ids": [crowd["agents"][1].pk, crowd["developers"][0].pk]},
    )
    assert response.status_code == 200
    assert f"You may not manage {crowd['developers'][0].email}." in response.content.decode()
    assert _nothing_changed(before) and AuditEntry.objects.count() == audit_before
    # But agents they may deactivate.
    client.post("/staff/", {"operation": "deactivate", "ids": [crowd["agents"][1].pk]})
    assert not StaffUser.objects.get(pk=crowd["agents"][1].pk).is_active
    # And the create form offers only the agent role.
    form = client.get("/staff/new/").content.decode()
    assert re.findall(r'<option value="([a-z_]+)"', form) == ["agent"]
    response = client.post(
        "/staff/new/",
        {
            "email": "x@acme.test",
            "full_name": "X",
            "role": "developer",
            "password": "long-pass-123",
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not StaffUser.objects.filter(email="x@acme.test").exists()


def test_bulk_form_errors_change_nothing(crowd: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(crowd["admin"])
    before, audit_before = _snapshot(), AuditEntry.objects.count()
    cases = [
        ({"operation": "deactivate"}, "Select at least one account."),
        ({"operation": "", "ids": [crowd["agents"][0].pk]}, "This field is required."),
        ({"operation": "role:agent", "ids": ["12x"]}, "The selection is not valid."),
        ({"operation": "launch", "ids": [crowd["agents"][0].pk]}, "Select a valid choice"),
    ]
    for data, message in cases:
        response = client.post("/staff/", data)
        assert response.status_code == 200
        assert message in response.content.decode(), data
    assert _nothing_changed(before) and AuditEntry.objects.count() == audit_before


def test_create_account(crowd: dict[str, Any], console_client: Any) -> None:
    client = console_client.as_(crowd["admin"])
    response = client.post(
        "/staff/new/",
        {
            "email": "New.Person@Acme.test",
            "full_name": "New Person",
            "role": "developer",
            "password": "a-long-enough-password",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/staff/?q=new.person%40acme.test"
    user = StaffUser.objects.get(email="new.person@acme.test")
    assert user.role == Role.DEVELOPER and user.business == crowd["business"]
    assert not user.two_factor_enrolled
    page = client.get(response["Location"]).content.decode()
    assert _emails(page) == ["new.person@acme.test"]
    assert "Created new.person@acme.test as Developer." in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password": "short"}, "password", "too short"),
        ({"password": "password123"}, "password", "too common"),
        ({"email": "agent001@acme.test"}, "email", "already exists"),
        ({"email": "AGENT001@acme.test"}, "email", "already exists"),
        ({"full_name": ""}, "full_name", "This field is required."),
        ({"role": "emperor"}, "role", "Select a valid choice"),
    ],
)
def test_create_form_errors_show_on_their_field_and_write_nothing(
    data: dict[str, str], field: str, message: str, crowd: dict[str, Any], console_client: Any
) -> None:
    client = console_client.as_(crowd["admin"])
    body = {
        "email": "fresh@acme.test",
        "full_name": "Fresh",
        "role": "agent",
        "password": "a-long-enough-password",
        **data,
    }
    staff_before, audit_before = StaffUser.objects.count(), AuditEntry.objects.count()
    response = client.post("/staff/new/", body)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in field_error(html, field)
    assert StaffUser.objects.count() == staff_before
    assert AuditEntry.objects.count() == audit_before
    # What was typed is kept, except the password.
    if field != "email":
        assert 'value="fresh@acme.test"' in html
    assert "a-long-enough-password" not in html
