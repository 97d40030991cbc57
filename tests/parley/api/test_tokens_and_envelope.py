"""Bearer tokens and Meta's error envelope on the Business API."""

import json

import pytest
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token, do_revoke_api_token
from parley.accounts.models import ApiToken, AuditEntry
from parley.core.errors import PermissionDenied

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant(factory):
    business = factory.business()
    dev = factory.staff(business, "developer")
    # An administrator's token: the number endpoints below need "Register business numbers".
    issued = do_create_api_token(factory.staff(business, "administrator"), name="CRM")
    return business, dev, issued


def api(client: Client, secret: str, method: str, path: str, body: object = None, **extra):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {secret}", **extra}
    if body is not None:
        kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        kwargs["content_type"] = extra.pop("content_type", "application/json")
    return getattr(client, method)(path, **kwargs)


def assert_envelope(response, status: int, code: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["type"] == "OAuthException"
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


def test_token_is_stored_hashed_and_shown_once(tenant) -> None:
    _, _, issued = tenant
    row = ApiToken.objects.get(pk=issued.token.pk)
    for field in ("name", "prefix", "token_hash"):
        assert issued.secret not in str(getattr(row, field))
    assert len(row.token_hash) == 64
    assert AuditEntry.objects.filter(action="api_token.created").exists()


def test_bearer_token_reads_its_own_business(client, tenant) -> None:
    business, _, issued = tenant
    response = api(client, issued.secret, "get", f"/v23.0/{business.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(business.pk)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at is not None


def test_last_used_time_is_recorded(client, tenant, frozen_clock) -> None:
    business, _, issued = tenant
    api(client, issued.secret, "get", f"/v23.0/{business.pk}/phone_numbers")
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == frozen_clock.now()


def test_revoked_token_gets_code_190(client, tenant) -> None:
    business, dev, issued = tenant
    do_revoke_api_token(dev, issued.token.pk)
    response = api(client, issued.secret, "get", f"/v23.0/{business.pk}")
    assert_envelope(response, 401, 190)
    assert AuditEntry.objects.filter(action="api_token.revoked").exists()


@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer PLYdeadbeefnotreal", "Basic dXNlcjpwYXNz", "Bearer", "Token x"],
)
def test_bad_tokens_get_code_190(client, tenant, header) -> None:
    business, _, _ = tenant
    response = client.get(f"/v23.0/{business.pk}", HTTP_AUTHORIZATION=header)
    assert_envelope(response, 401, 190)


def test_missing_token_gets_code_190(client, tenant) -> None:
    business, _, _ = tenant
    assert_envelope(client.get(f"/v23.0/{business.pk}"), 401, 190)


def test_agents_and_supervisors_cannot_create_tokens(factory) -> None:
    business = factory.business()
    for role in ("agent", "supervisor", "compliance_officer"):
        with pytest.raises(PermissionDenied):
            do_create_api_token(factory.staff(business, role), name="x")
    assert not ApiToken.objects.exists()


def test_another_business_is_invisible(client, tenant, factory) -> None:
    _, _, issued = tenant
    other = factory.business("Other")
    from parley.accounts.actions.numbers import do_add_number

    number = do_add_number(
        factory.staff(other, "administrator"), phone_number="+919876543210", display_name="Other Co"
    )
    for path in (f"/v23.0/{other.pk}", f"/v23.0/{other.pk}/phone_numbers", f"/v23.0/{number.pk}"):
        error = assert_envelope(api(client, issued.secret, "get", path), 404, 100)
        assert "Other" not in json.dumps(error)
    response = api(client, issued.secret, "post", f"/v23.0/{number.pk}/request_code",
                   {"code_method": "SMS"})  # fmt: skip
    assert_envelope(response, 404, 100)
    assert not number.codes.exists()


def test_malformed_json_and_wrong_types(client, tenant, factory) -> None:
    business, _, issued = tenant
    from parley.accounts.actions.numbers import do_add_number

    admin = factory.staff(business, "administrator")
    number = do_add_number(admin, phone_number="+442071838750", display_name="Acme UK")
    path = f"/v23.0/{number.pk}/request_code"
    assert_envelope(api(client, issued.secret, "post", path, "{not json"), 400, 100)
    assert_envelope(api(client, issued.secret, "post", path, "[1, 2]"), 400, 100)
    assert_envelope(api(client, issued.secret, "post", path, {"code_method": 7}), 400, 100)
    error = assert_envelope(
        api(client, issued.secret, "post", path, {"code_method": "PIGEON"}), 400, 100
    )
    assert "code_method" in error["message"]
    response = api(client, issued.secret, "post", path, "code_method=SMS",
                   content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert_envelope(response, 415, 100)
    assert not number.codes.exists()


def test_huge_payload_is_refused_cleanly(client, tenant) -> None:
    business, _, issued = tenant
    huge = json.dumps({"code_method": "SMS", "language": "x" * (6 * 1024 * 1024)})
    response = api(client, issued.secret, "post", f"/v23.0/{business.pk}/request_code", huge)
    assert response.status_code in (400, 404, 413)
    assert "error" in response.json()


def test_unknown_paths_and_ids(client, tenant) -> None:
    _, _, issued = tenant
    assert_envelope(api(client, issued.secret, "get", "/v23.0/999999999999999"), 404, 100)
    assert_envelope(api(client, issued.secret, "get", "/v23.0/abc"), 404, 100)
    response = api(client, issued.secret, "get", "/v23.0/1/2/3/4")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 2500


def test_schema_is_served(client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert b"request_code" in response.content
