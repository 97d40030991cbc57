"""The OpenAPI schema is the contract: every surface is in it, every error status is
documented with Meta's envelope, and the documented shapes are the answered ones."""

from __future__ import annotations

from typing import Any

import pytest

ERROR_REF = "#/components/schemas/ErrorEnvelope"


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return dict(response.json())


def _ops(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _response_schema(schema: dict[str, Any], op: dict[str, Any], status: str) -> dict[str, Any]:
    body = op["responses"][status]["content"]["application/json"]["schema"]
    if "$ref" in body:
        return dict(schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]])
    return dict(body)


def test_every_surface_is_in_the_schema(schema) -> None:
    paths = set(schema["paths"])
    for expected in [
        "/{version}/{waba_id}/phone_numbers/",
        "/parley/v1/billing/events",
        "/parley/v1/security/e2ee-health",
        "/relay/v1/accounts",
        "/relay/v1/keys",
        "/relay/v1/messages/{number}",
        "/relay/v1/identity/{number}",
    ]:
        assert expected in paths, sorted(paths)


def test_every_operation_documents_its_errors_with_the_envelope(schema) -> None:
    for method, path, op in _ops(schema):
        statuses = set(op["responses"])
        assert "400" in statuses, (method, path)
        if op.get("security") and {} not in op["security"]:
            assert {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in op:
            assert {"413", "415"} <= statuses, (method, path)
        for status in statuses:
            if status.startswith("4"):
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == ERROR_REF, (method, path, status)
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]


def test_relay_statuses_and_bodies_are_described(schema) -> None:
    send = schema["paths"]["/relay/v1/messages/{number}"]["put"]
    assert {"409", "410"} <= set(send["responses"])
    for path, method in [
        ("/relay/v1/accounts", "post"),
        ("/relay/v1/keys", "put"),
        ("/relay/v1/messages/{number}", "put"),
        ("/relay/v1/accounts/registration-lock", "put"),
    ]:
        assert "requestBody" in schema["paths"][path][method], path
    assert "423" in schema["paths"]["/relay/v1/accounts"]["post"]["responses"]


def test_response_shapes_match_what_is_answered(schema) -> None:
    numbers = schema["paths"]["/{version}/{waba_id}/phone_numbers/"]["get"]
    body = _response_schema(schema, numbers, "200")
    assert set(body["properties"]) == {"data", "paging"}
    assert body["properties"]["data"]["type"] == "array"
    node = _response_schema(schema, schema["paths"]["/{version}/{node_id}/"]["get"], "200")
    # A phone number, the business, a message template or a media object.
    assert len(node["oneOf"]) == 4
    media = schema["components"]["schemas"]["MediaOut"]
    assert set(media["properties"]) == {
        "messaging_product", "url", "mime_type", "sha256", "file_size", "id",
    }  # fmt: skip
    upload = schema["paths"]["/{version}/{number_id}/media/"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    form = schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert form["properties"]["file"]["format"] == "binary"
    assert "delete" in schema["paths"]["/{version}/{node_id}/"]
    events = schema["paths"]["/parley/v1/billing/events"]["get"]
    assert {"next", "previous", "results"} <= set(
        _response_schema(schema, events, "200")["properties"]
    )
    version = next(p for p in numbers["parameters"] if p["name"] == "version" and p["in"] == "path")
    assert "v23.0" in version["schema"]["enum"]
