"""The OpenAPI schema is the contract: every operation documents the statuses it can answer,
each error with Meta's envelope as its body. A view adds statuses beyond the common ones with
`ApiView.error_statuses` (409, 410, 423, 429, …)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

DESCRIPTIONS = {
    400: "Invalid parameter, body or API version (code 100 or 2500).",
    401: "Missing, invalid or revoked credentials (code 190).",
    403: "The credentials do not allow this operation (code 10).",
    404: "The object does not exist, or belongs to another tenant (code 100, subcode 33).",
    409: "The request conflicts with the object's current state.",
    410: "The object changed since the client last read it.",
    413: "The request body is too large.",
    415: "The request body is not application/json.",
    423: "The object is locked: a second factor is needed.",
    429: "Too many requests: retry after the Retry-After header's seconds (code 4).",
}


class ErrorBody(serializers.Serializer[Any]):
    message = serializers.CharField()
    type = serializers.CharField()
    code = serializers.IntegerField()
    error_subcode = serializers.IntegerField(required=False)
    fbtrace_id = serializers.CharField()
    error_data = serializers.DictField(required=False, help_text="Details to act on (relay).")


class ErrorEnvelope(serializers.Serializer[Any]):
    error = ErrorBody()


class ParleyAutoSchema(AutoSchema):
    def _error_statuses(self) -> list[int]:
        view = self.view
        statuses = {400}  # every request is checked (NUL, version, parameters, body)
        if getattr(view, "authentication_classes", None):
            statuses |= {401, 403}
        if "{" in self.path:
            statuses.add(404)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses |= {413, 415}
        statuses |= set(getattr(view, "error_statuses", ()))
        return sorted(statuses)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            key = str(status)
            if key not in responses:
                responses[key] = self._get_response_for_code(
                    OpenApiResponse(ErrorEnvelope, description=DESCRIPTIONS[status]),
                    key,
                    direction=direction,
                )
        return responses


class DeviceCredentialScheme(OpenApiAuthenticationExtension):
    target_class = "parley.relay.auth.DeviceAuthentication"
    name = "deviceCredential"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "base64 of `<e164>.<device_id>:<password>` (the registration's "
            "`credential`), or that string as a Bearer token.",
        }


class Base64FieldSchema(OpenApiSerializerFieldExtension):
    target_class = "parley.relay.serializers.Base64Field"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        max_bytes = int(getattr(self.target, "max_bytes", 0))
        return {
            "type": "string",
            "format": "byte",
            "pattern": "^[A-Za-z0-9+/]*={0,2}$",
            "maxLength": (max_bytes + 2) // 3 * 4,
        }
