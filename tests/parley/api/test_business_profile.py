"""A number's WhatsApp business profile on the Cloud API: read with `fields`, update every
field, Meta's error envelope for each invalid value, tenants and roles, the picture."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from parley.accounts.actions.profiles import do_update_business_profile
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry, BusinessProfile, PhoneNumber
from parley.core.errors import InvalidParameter
from parley.media.actions import do_upload_media
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FULL = {
    "messaging_product": "whatsapp",
    "about": "Open 9 to 5",
    "address": "1 Market St, San Francisco",
    "description": "We sell bicycles and fix them.",
    "email": "hello@shop.example",
    "vertical": "RETAIL",
    "websites": ["https://shop.example", "http://shop.example/blog"],
}


@pytest.fixture
def tokens(factory: Any, number: PhoneNumber) -> dict[str, str]:
    admin = factory.staff(number.business, "administrator")
    developer = factory.staff(number.business, "developer")
    return {
        "admin": do_create_api_token(admin, name="admin").secret,
        "developer": do_create_api_token(developer, name="dev").secret,
    }


def _path(number: PhoneNumber) -> str:
    return f"/v23.0/{number.pk}/whatsapp_business_profile"


def _read(client: Client, secret: str, number: PhoneNumber, query: str = "") -> dict[str, Any]:
    response = api(client, secret, "get", _path(number) + query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"data"} and len(body["data"]) == 1
    return dict(body["data"][0])


def test_an_unset_profile_reads_as_only_the_product(client, number, tokens) -> None:
    assert _read(client, tokens["developer"], number) == {"messaging_product": "whatsapp"}


def test_every_field_is_updated_and_read_back(client, number, tokens) -> None:
    media = do_upload_media(number, PNG, mime_type="image/png", file_name="logo.png")
    body = {**FULL, "profile_picture_handle": str(media.graph_id)}
    response = api(client, tokens["admin"], "post", _path(number), body)
    assert response.status_code == 200 and response.json() == {"success": True}

    item = _read(client, tokens["developer"], number)
    url = item.pop("profile_picture_url")
    expected = {k: v for k, v in FULL.items()}
    assert item == expected
    assert url.startswith(f"http://testserver/parley/v1/numbers/{number.pk}/profile_picture?v=")

    # The picture is served by Parley with the business's token, and is a copy: it stays
    # when the uploaded media object is gone.
    media.delete()
    picture = api(client, tokens["developer"], "get", url.removeprefix("http://testserver"))
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/png" and picture.content == PNG
    assert assert_envelope(client.get(url), 401, 190)

    audit = AuditEntry.objects.get(action="number.profile_updated")
    assert audit.target == number.e164
    assert set(audit.details["fields"]) == {
        "about",
        "address",
        "description",
        "email",
        "vertical",
        "websites",
        "profile_picture",
    }


def test_an_update_changes_only_the_fields_sent(client, number, tokens) -> None:
    api(client, tokens["admin"], "post", _path(number), FULL)
    response = api(
        client,
        tokens["admin"],
        "post",
        _path(number),
        {
            "messaging_product": "whatsapp",
            "about": "Closed on Sundays",
            "websites": [],
            "address": "",
        },
    )
    assert response.status_code == 200
    item = _read(client, tokens["admin"], number)
    assert item["about"] == "Closed on Sundays"
    assert "websites" not in item and "address" not in item  # cleared, so left out
    assert item["email"] == FULL["email"] and item["vertical"] == "RETAIL"


def test_fields_selects_what_is_answered(client, number, tokens) -> None:
    api(client, tokens["admin"], "post", _path(number), FULL)
    item = _read(client, tokens["developer"], number, "?fields=about,email,vertical")
    assert item == {
        "messaging_product": "whatsapp",
        "about": FULL["about"],
        "email": FULL["email"],
        "vertical": "RETAIL",
    }
    item = _read(client, tokens["developer"], number, "?fields=websites")
    assert item == {"messaging_product": "whatsapp", "websites": FULL["websites"]}
    # Without `fields`, or with it empty, every field (Meta's default list).
    assert set(_read(client, tokens["developer"], number)) == set(FULL)
    assert set(_read(client, tokens["developer"], number, "?fields=")) == set(FULL)
    # An empty name in the list is no field.
    assert_envelope(
        api(client, tokens["developer"], "get", _path(number) + "?fields=about,,email"), 400, 100
    )
    error = assert_envelope(
        api(client, tokens["developer"], "get", _path(number) + "?fields=about,colour"), 400, 100
    )
    assert "nonexisting field (colour)" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"about": "a" * 140}, "about"),
        ({"about": ""}, "about"),
        ({"address": "a" * 257}, "address"),
        ({"description": "d" * 513}, "description"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 120 + "@example.com"}, "email"),
        ({"vertical": "SPACESHIPS"}, "vertical"),
        ({"websites": ["https://a.example", "https://b.example", "https://c.example"]}, "websites"),
        ({"websites": ["ftp://files.example"]}, "websites"),
        ({"websites": ["https://example.com/" + "p" * 250]}, "websites"),
        ({"websites": "https://a.example"}, "websites"),
        ({"profile_picture_handle": "4:VGVzdC5wbmc=:aW1hZ2UvanBlZw=="}, "profile_picture_handle"),
        ({"profile_picture_handle": "12345678901234567"}, "profile_picture_handle"),
        ({"messaging_product": "sms"}, "messaging_product"),
    ],
)
def test_invalid_values_answer_code_100_naming_the_field(client, number, tokens, body, field):
    api(client, tokens["admin"], "post", _path(number), FULL)
    response = api(
        client, tokens["admin"], "post", _path(number), {"messaging_product": "whatsapp", **body}
    )
    error = assert_envelope(response, 400, 100)
    assert field in error["message"]
    # Nothing was half-written.
    profile = BusinessProfile.objects.get(number=number)
    assert (profile.about, profile.email, profile.websites) == (
        FULL["about"],
        FULL["email"],
        FULL["websites"],
    )


def test_messaging_product_is_required(client, number, tokens) -> None:
    error = assert_envelope(
        api(client, tokens["admin"], "post", _path(number), {"about": "x"}), 400, 100
    )
    assert "messaging_product" in error["message"]
    assert not BusinessProfile.objects.exists()


def test_a_picture_handle_must_be_an_image_of_this_business(client, number, tokens, factory):
    pdf = do_upload_media(number, b"%PDF-1.4\n" + b"0" * 64, mime_type="application/pdf")
    error = assert_envelope(
        api(
            client,
            tokens["admin"],
            "post",
            _path(number),
            {"messaging_product": "whatsapp", "profile_picture_handle": str(pdf.graph_id)},
        ),
        400,
        100,
    )
    assert "profile_picture_handle must name a JPEG or PNG" in error["message"]
    other = PhoneNumber.objects.create(
        business=factory.business("Other"),
        e164="+14155550999",
        country="US",
        display_name="Other",
        created_at=number.created_at,
    )
    foreign = do_upload_media(other, PNG, mime_type="image/png")
    error = assert_envelope(
        api(
            client,
            tokens["admin"],
            "post",
            _path(number),
            {"messaging_product": "whatsapp", "profile_picture_handle": str(foreign.graph_id)},
        ),
        400,
        100,
    )
    assert "profile_picture_handle" in error["message"]


def test_replacing_and_removing_the_picture(
    client, number, tokens, django_capture_on_commit_callbacks
) -> None:
    first = do_upload_media(number, PNG, mime_type="image/png")
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 64
    second = do_upload_media(number, jpeg, mime_type="image/jpeg")
    do_update_business_profile(
        number.business, number.pk, {"profile_picture_handle": str(first.graph_id)}
    )
    old_name = BusinessProfile.objects.get(number=number).profile_picture_name
    with django_capture_on_commit_callbacks(execute=True):
        do_update_business_profile(
            number.business, number.pk, {"profile_picture_handle": str(second.graph_id)}
        )
    assert not default_storage.exists(old_name)  # the replaced copy is deleted after commit
    profile = BusinessProfile.objects.get(number=number)
    assert profile.profile_picture_mime_type == "image/jpeg"
    picture = api(
        client, tokens["developer"], "get", f"/parley/v1/numbers/{number.pk}/profile_picture"
    )
    assert picture.content == jpeg and picture["Content-Type"] == "image/jpeg"
    with django_capture_on_commit_callbacks(execute=True):
        do_update_business_profile(number.business, number.pk, {"profile_picture_handle": ""})
    assert not default_storage.exists(profile.profile_picture_name)
    assert "profile_picture_url" not in _read(client, tokens["developer"], number)
    assert_envelope(
        api(client, tokens["developer"], "get", f"/parley/v1/numbers/{number.pk}/profile_picture"),
        404,
        100,
    )


def test_another_business_number_is_404_like_an_unknown_one(client, number, tokens, factory):
    other_business = factory.business("Other")
    other = PhoneNumber.objects.create(
        business=other_business,
        e164="+14155550998",
        country="US",
        display_name="Other",
        created_at=number.created_at,
    )
    do_update_business_profile(other_business, other.pk, {"about": "Secret"})
    for path in (_path(other), "/v23.0/999999999999999/whatsapp_business_profile"):
        read = assert_envelope(api(client, tokens["admin"], "get", path), 404, 100)
        write = assert_envelope(
            api(
                client,
                tokens["admin"],
                "post",
                path,
                {"messaging_product": "whatsapp", "about": "Mine"},
            ),
            404,
            100,
        )
        assert read["error_subcode"] == write["error_subcode"] == 33
        assert "Secret" not in str(read)
    unknown = api(
        client, tokens["admin"], "get", "/v23.0/999999999999999/whatsapp_business_profile"
    )
    foreign = api(client, tokens["admin"], "get", _path(other))
    assert unknown.json()["error"]["message"].replace("999999999999999", "X") == foreign.json()[
        "error"
    ]["message"].replace(str(other.pk), "X")
    assert BusinessProfile.objects.get(number=other).about == "Secret"
    assert_envelope(
        api(client, tokens["admin"], "get", f"/parley/v1/numbers/{other.pk}/profile_picture"),
        404,
        100,
    )


def test_a_developer_token_reads_but_may_not_write(client, number, tokens) -> None:
    api(client, tokens["admin"], "post", _path(number), FULL)
    assert _read(client, tokens["developer"], number)["about"] == FULL["about"]
    error = assert_envelope(
        api(
            client,
            tokens["developer"],
            "post",
            _path(number),
            {"messaging_product": "whatsapp", "about": "Hacked"},
        ),
        403,
        10,
    )
    assert "manage_numbers" in error["message"]
    assert BusinessProfile.objects.get(number=number).about == FULL["about"]


def test_a_token_without_view_numbers_may_not_read(client, number, factory) -> None:
    admin = factory.staff(number.business, "administrator")
    secret = do_create_api_token(admin, name="billing", scopes=["view_billing"]).secret
    error = assert_envelope(api(client, secret, "get", _path(number)), 403, 10)
    assert "view_numbers" in error["message"]


def test_the_action_refuses_unknown_fields_and_audits_only_changes(number) -> None:
    with pytest.raises(InvalidParameter) as excinfo:
        do_update_business_profile(number.business, number.pk, {"colour": "red"})
    assert excinfo.value.field == "colour"
    do_update_business_profile(number.business, number.pk, {"about": "Hi"})
    do_update_business_profile(number.business, number.pk, {"about": "Hi"})
    assert AuditEntry.objects.filter(action="number.profile_updated").count() == 1
