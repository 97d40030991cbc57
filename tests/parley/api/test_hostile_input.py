"""Hostile input on every REST surface answers 4xx in Meta's envelope, never a 500: deep JSON,
duplicate keys, NUL, unpaired surrogates, huge numbers, dates beyond year 9999 and other
scripts' digits; unsupported methods answer 405 before authentication; only the supported
Graph API versions are served."""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import pytest
from django.test import RequestFactory

from frontend.context import console
from parley.accounts.actions.numbers import do_add_number
from parley.accounts.actions.tokens import do_create_api_token
from parley.api.auth import ApiClient
from parley.api.errors import envelope
from parley.core.views import not_found, server_error
from parley.relay.actions.devices import do_register_device
from tests.parley.api.test_tokens_and_envelope import assert_envelope
from tests.parley.relay.conftest import IDENTITY

pytestmark = pytest.mark.django_db

DEEP = 1000  # CPython's JSON decoder recurses: about 900 levels or more overflow it

ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + i) for i in range(10)))
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))


@pytest.fixture
def tenant(factory: Any) -> dict[str, Any]:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    secret = do_create_api_token(admin, name="t").secret
    number = do_add_number(admin, phone_number="+14155550177", display_name="Acme Hostile")
    registration = do_register_device(
        e164=number.e164,
        kind="business",
        device_id=1,
        registration_id=77,
        identity_key=IDENTITY.public_key.serialize(),
        business=business,
    )
    device = "Basic " + base64.b64encode(str(registration.credential).encode()).decode()
    return {
        "business": business,
        "number": number,
        "token": f"Bearer {secret}",
        "device": device,
    }


def send(client: Any, method: str, path: str, body: str | None, auth: str | None = None) -> Any:
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    if body is None:
        return getattr(client, method)(path, **extra)
    return getattr(client, method)(path, data=body, content_type="application/json", **extra)


def deep_array(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int = DEEP) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def json_endpoints(tenant: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(method, path, credential) of JSON-body endpoints on each surface."""
    n = tenant["number"].pk
    return [
        ("post", f"/v23.0/{n}/request_code", tenant["token"]),
        ("post", f"/v23.0/{n}/verify_code", tenant["token"]),
        ("post", "/parley/v1/billing/estimates", tenant["token"]),
        ("put", "/relay/v1/keys", tenant["device"]),
        ("put", f"/relay/v1/messages/{tenant['number'].e164}", tenant["device"]),
        ("put", "/relay/v1/accounts/registration-lock", tenant["device"]),
        ("post", "/relay/v1/accounts", None),  # registration: no credential needed
        ("post", "/relay/v1/accounts", "Basic bm9wZQ=="),  # a credential that is wrong
    ]


# --- deep nesting ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [deep_array(), deep_object()], ids=["array", "object"])
def test_deep_json_is_refused_on_every_surface(client, tenant, body) -> None:
    for method, path, auth in json_endpoints(tenant):
        response = send(client, method, path, body, auth)
        if auth == "Basic bm9wZQ==":
            assert response.status_code in (400, 401), (path, response.content[:200])
            assert "error" in response.json()
            continue
        error = assert_envelope(response, 400, 100)
        assert "nested deeper" in error["message"], (path, error)


def test_deep_json_without_credentials_is_401_not_500(client, tenant) -> None:
    n = tenant["number"].pk
    for method, path in [("post", f"/v23.0/{n}/register"), ("put", "/relay/v1/keys"),
                         ("post", "/parley/v1/billing/agents")]:  # fmt: skip
        response = send(client, method, path, deep_array())
        assert response.status_code == 401, (path, response.content[:200])
        assert_envelope(response, 401, 190)


def test_moderate_nesting_still_parses(client, tenant) -> None:
    # 20 levels: valid JSON, parsed, then refused by the serializer for its shape.
    body = json.dumps({"code_method": "SMS", "language": json.loads(deep_object(20))})
    error = assert_envelope(
        send(client, "post", f"/v23.0/{tenant['number'].pk}/request_code", body, tenant["token"]),
        400,
        100,
    )
    assert "language" in error["message"]


# --- strings and numbers -----------------------------------------------------------------


def test_lone_surrogate_is_refused_not_echoed_into_a_crash(client, tenant) -> None:
    # The choice error repeats the value back; an unpaired surrogate cannot be encoded.
    body = '{"code_method": "\\ud800", "language": "en_US"}'
    path = f"/v23.0/{tenant['number'].pk}/request_code"
    error = assert_envelope(send(client, "post", path, body, tenant["token"]), 400, 100)
    assert "surrogate" in error["message"]
    relay = send(client, "put", "/relay/v1/accounts/registration-lock",
                 '{"pin": "12\\udfff34"}', tenant["device"])  # fmt: skip
    assert_envelope(relay, 400, 100)


def test_an_envelope_message_is_always_encodable() -> None:
    body = envelope("bad value '\ud800'", code=100)
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert "\\ud800" in body["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        '{"code_method": "SMS\\u0000", "language": "en_US"}',
        '{"code_method": "SMS", "code_method": "VOICE"}',
        '{"code_method": "SMS", "language": "en_US", "x": 1' + "0" * 5000 + "}",
        '{"code_method": "SMS", "language": "en_US", "x": 99999999999999999999}',
        '{"code_method": "SMS", "language": "en_US", "x": 1e999}',
        '{"code_method": "SMS", "language": "en_US", "x": NaN}',
        '"just a string"',
        "[1, 2]",
        "\xff\xfe",
    ],
    ids=[
        "nul",
        "duplicate-key",
        "long-number",
        "beyond-64-bits",
        "infinite",
        "nan",
        "string",
        "array",
        "not-utf8",
    ],
)
def test_hostile_bodies_answer_400(client, tenant, body) -> None:
    path = f"/v23.0/{tenant['number'].pk}/request_code"
    assert_envelope(send(client, "post", path, body, tenant["token"]), 400, 100)
    assert not tenant["number"].codes.exists()


def test_relay_numbers_beyond_64_bits_answer_400(client, tenant) -> None:
    body = json.dumps({"timestamp": 10**30, "messages": [
        {"type": 1, "destination_device_id": 1, "content": "AAAA"}]})  # fmt: skip
    response = send(client, "put", f"/relay/v1/messages/{tenant['number'].e164}", body,
                    tenant["device"])  # fmt: skip
    assert_envelope(response, 400, 100)


def test_nul_in_query_parameters_and_paths_answers_400(client, tenant) -> None:
    for path in [
        "/parley/v1/billing/events?type=a%00b",
        "/parley/v1/billing/events?customer=%00",
        "/parley/v1/billing/agents/a%00b",
        "/parley/v1/billing/usage?period=2026-03%00",
    ]:
        assert_envelope(send(client, "get", path, None, tenant["token"]), 400, 100)


# --- dates and digits in query parameters and path segments -------------------------------


def test_year_10000_in_query_parameters(client, tenant) -> None:
    # 16 digits of milliseconds: beyond year 9999.
    response = send(client, "get", f"/relay/v1/identity/{tenant['number'].e164}?since="
                    "9999999999999999", None, tenant["device"])  # fmt: skip
    error = assert_envelope(response, 400, 100)
    assert "since" in error["message"]
    for period in ("10000-01", "99999-12"):
        response = send(client, "get", f"/parley/v1/billing/usage?period={period}", None,
                        tenant["token"])  # fmt: skip
        assert_envelope(response, 400, 100)
    # A cursor whose position is a time in year 10000 names no page.
    cursor = base64.b64encode(b"o=0&r=0&p=10000-01-01 00:00:00+00:00").decode()
    response = send(client, "get", f"/parley/v1/billing/events?cursor={cursor}", None,
                    tenant["token"])  # fmt: skip
    assert_envelope(response, 404, 100)


@pytest.mark.parametrize(
    "digits", ["\u00b2", "\uff11\uff12", "\u0663"], ids=["superscript", "full-width", "arabic"]
)
def test_non_ascii_digits_in_query_parameters(client, tenant, digits) -> None:
    response = send(client, "get", f"/relay/v1/identity/{tenant['number'].e164}?since={digits}",
                    None, tenant["device"])  # fmt: skip
    assert_envelope(response, 400, 100)
    response = send(client, "get", f"/v23.0/{tenant['business'].pk}/phone_numbers?limit={digits}",
                    None, tenant["token"])  # fmt: skip
    assert_envelope(response, 400, 100)


@pytest.mark.parametrize(
    "digits", ["\u00b2", "\uff11", "\u0661"], ids=["superscript", "full-width", "arabic"]
)
def test_non_ascii_digits_in_path_segments(client, tenant, digits) -> None:
    response = send(client, "get", f"/relay/v1/keys/{tenant['number'].e164}/{digits}", None,
                    tenant["device"])  # fmt: skip
    assert_envelope(response, 400, 100)


@pytest.mark.parametrize("table", [ARABIC_INDIC, FULL_WIDTH], ids=["arabic", "full-width"])
def test_ids_in_other_scripts_digits_name_nothing(client, tenant, table) -> None:
    number_id = str(tenant["number"].pk)
    assert send(client, "get", f"/v23.0/{number_id}", None, tenant["token"]).status_code == 200
    response = send(client, "get", f"/v23.0/{number_id.translate(table)}", None, tenant["token"])
    assert response.status_code == 404
    assert "error" in response.json()
    response = send(client, "post", f"/v23.0/{number_id.translate(table)}/deregister", "{}",
                    tenant["token"])  # fmt: skip
    assert response.status_code == 404
    response = send(client, "get", f"/v{'23'.translate(table)}.0/{number_id}", None,
                    tenant["token"])  # fmt: skip
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 2500


# --- methods and versions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("delete", "/v23.0/{number}", "GET"),
        ("put", "/v23.0/{number}/request_code", "POST"),
        ("patch", "/relay/v1/keys", "PUT"),
        ("post", "/relay/v1/messages", "GET"),
        ("delete", "/parley/v1/billing/usage", "GET"),
        ("get", "/relay/v1/accounts", "POST"),
    ],
)
def test_unsupported_methods_answer_405_before_authentication(
    client, tenant, method, path, allow
) -> None:
    path = path.format(number=tenant["number"].pk)
    for auth in (None, "Bearer wrong", tenant["token"]):
        response = send(client, method, path, None, auth)
        error = assert_envelope(response, 405, 100)
        assert method.upper() in error["message"]
        assert allow in response["Allow"]


@pytest.mark.parametrize("version", ["v0.0", "v1.0", "v19.0", "v27.0", "v99.0", "v23.1"])
def test_unsupported_versions_answer_as_the_graph_api(client, tenant, version) -> None:
    business = tenant["business"]
    response = send(client, "get", f"/{version}/{business.pk}", None, tenant["token"])
    error = assert_envelope(response, 400, 2500)
    assert error["message"].startswith(f"Unknown path components: /{business.pk}")
    response = send(client, "get", f"/{version}/{business.pk}/phone_numbers", None, None)
    assert_envelope(response, 400, 2500)


@pytest.mark.parametrize("version", ["v20.0", "v23.0", "v26.0"])
def test_supported_versions_are_served(client, tenant, version) -> None:
    business = tenant["business"]
    response = send(client, "get", f"/{version}/{business.pk}", None, tenant["token"])
    assert response.status_code == 200
    assert response.json()["id"] == str(business.pk)


def test_phone_numbers_are_paginated_as_the_graph_api(client, tenant, factory) -> None:
    business = tenant["business"]
    admin = factory.staff(business, "administrator")
    do_add_number(admin, phone_number="+14155550178", display_name="Acme Second")
    path = f"/v23.0/{business.pk}/phone_numbers"
    first = send(client, "get", path + "?limit=1", None, tenant["token"]).json()
    assert len(first["data"]) == 1
    after = first["paging"]["cursors"]["after"]
    assert "next" in first["paging"]
    second = send(client, "get", f"{path}?limit=1&after={after}", None, tenant["token"]).json()
    assert len(second["data"]) == 1 and "next" not in second["paging"]
    assert first["data"][0]["id"] != second["data"][0]["id"]


# --- error pages for API clients -----------------------------------------------------------


def test_the_console_context_never_assumes_a_staff_user(tenant) -> None:
    from parley.accounts.models import ApiToken

    request = RequestFactory().get("/favicon.ico")
    request.user = cast(Any, ApiClient(ApiToken.objects.get(business=tenant["business"])))
    assert console(request) == {}


def test_api_clients_meeting_error_pages_get_envelopes(client, tenant) -> None:
    from parley.accounts.models import ApiToken

    client_user = ApiClient(ApiToken.objects.get(business=tenant["business"]))
    for path in ("/parley/v1/billing/events", "/relay/v1/keys", "/v23.0/1", "/somewhere"):
        request = RequestFactory().get(path, HTTP_AUTHORIZATION=tenant["token"])
        request.user = cast(Any, client_user)
        response = server_error(request)
        assert response.status_code == 500
        assert json.loads(response.content)["error"]["code"] == 2
        response = not_found(request)
        assert response.status_code == 404
        assert json.loads(response.content)["error"]["code"] == 2500
    # Over HTTP: an unknown /parley/v1 path with a token is JSON, not the console's page.
    response = send(client, "get", "/parley/v1/nothing-here", None, tenant["token"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 2500
