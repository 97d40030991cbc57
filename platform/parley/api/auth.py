"""Bearer-token authentication for the Business API (`Authorization: Bearer <token>`, or the
Graph API's `access_token` query parameter)."""

from __future__ import annotations

import dataclasses
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from parley.accounts.actions.tokens import authenticate_api_token
from parley.accounts.models import ApiToken, Business
from parley.core.errors import AuthenticationFailed

INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"


@dataclasses.dataclass(frozen=True)
class ApiClient:
    """The caller behind a token: always exactly one business."""

    token: ApiToken

    @property
    def business(self) -> Business:
        return self.token.business

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def label(self) -> str:
        return f"api token {self.token.name} ({self.token.prefix})"


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        secret = ""
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise AuthenticationFailed(INVALID_TOKEN)
            secret = value.strip()
        else:
            secret = request.query_params.get("access_token", "")
        if not secret:
            return None
        token = authenticate_api_token(secret)
        if token is None:
            raise AuthenticationFailed(
                "Error validating access token: The token is invalid or revoked."
            )
        return ApiClient(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="parley"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "parley.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}
