"""The business profile card on a number's page: shown to those who see numbers, edited by
administrators through a form with field errors."""

from __future__ import annotations

from typing import Any

import pytest

from parley.accounts.actions.profiles import do_update_business_profile
from parley.accounts.models import AuditEntry, BusinessProfile
from parley.media.actions import do_upload_media
from tests.frontend.helpers import by_testid, field_error

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FORM = {
    "about": "Open 9 to 5",
    "address": "1 Market St",
    "description": "Bicycles, sold and fixed.",
    "email": "hello@shop.example",
    "vertical": "RETAIL",
    "websites": "https://shop.example\nhttp://shop.example/blog\n",
}


@pytest.mark.django_db
def test_an_administrator_edits_the_profile(factory: Any, console: Any, console_client: Any):
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    client = console_client.as_(admin)
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert 'data-testid="business-profile"' in page and 'data-testid="profile-form"' in page
    assert by_testid(page, "profile-about") == ["—"]

    response = client.post(f"/numbers/{number.pk}/profile/", FORM)
    assert response.status_code == 302 and response["Location"] == f"/numbers/{number.pk}/"
    profile = BusinessProfile.objects.get(number=number)
    assert profile.websites == ["https://shop.example", "http://shop.example/blog"]
    assert (profile.about, profile.email, profile.vertical) == (
        "Open 9 to 5", "hello@shop.example", "RETAIL")  # fmt: skip
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "profile-about") == ["Open 9 to 5"]
    assert by_testid(page, "profile-vertical") == ["Retail"]
    assert by_testid(page, "profile-website") == FORM["websites"].split()
    assert AuditEntry.objects.filter(action="number.profile_updated",
                                     actor_label=admin.email).exists()  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"about": "a" * 140}, "about", "at most 139 characters"),
        ({"description": "d" * 513}, "description", "at most 512 characters"),
        ({"vertical": "SPACESHIPS"}, "vertical", "Select a valid choice"),
        ({"websites": "ftp://files.example"}, "websites", "http:// or https://"),
        (
            {"websites": "https://a.example\nhttps://b.example\nhttps://c.example"},
            "websites",
            "at most 2 URLs",
        ),
    ],
)
def test_invalid_values_are_field_errors_not_crashes(
    factory: Any, console: Any, console_client: Any, change: dict[str, str], field: str,
    message: str,
) -> None:  # fmt: skip
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    client = console_client.as_(admin)
    response = client.post(f"/numbers/{number.pk}/profile/", {**FORM, **change})
    assert response.status_code == 200
    assert message in field_error(response.content.decode(), field)
    assert not BusinessProfile.objects.filter(number=number).exists()


@pytest.mark.django_db
def test_a_developer_sees_the_profile_but_cannot_edit_it(
    factory: Any, console: Any, console_client: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    media = do_upload_media(number, PNG, mime_type="image/png")
    do_update_business_profile(business, number.pk, {"about": "Hello",
                               "profile_picture_handle": str(media.graph_id)})  # fmt: skip
    client = console_client.as_(factory.staff(business, "developer"))
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "profile-about") == ["Hello"]
    assert 'data-testid="profile-picture"' in page and 'data-testid="profile-form"' not in page
    picture = client.get(f"/numbers/{number.pk}/profile-picture/")
    assert picture.status_code == 200 and picture.content == PNG
    assert client.post(f"/numbers/{number.pk}/profile/", FORM).status_code == 403
    assert BusinessProfile.objects.get(number=number).about == "Hello"


@pytest.mark.django_db
def test_another_business_number_profile_is_not_found(
    factory: Any, console: Any, console_client: Any
) -> None:
    other_admin = factory.staff(factory.business("Other"), "administrator")
    other = console.number(other_admin)
    admin = factory.staff(factory.business(), "administrator")
    client = console_client.as_(admin)
    assert client.post(f"/numbers/{other.pk}/profile/", FORM).status_code == 404
    assert client.get(f"/numbers/{other.pk}/profile-picture/").status_code == 404
    assert not BusinessProfile.objects.exists()
