"""A business with a developer's API token (every scope a developer may give), and helpers
that build templates the way a client does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token


class Tenant:
    def __init__(self, business: Any, developer: Any, secret: str, client: Client) -> None:
        self.business = business
        self.developer = developer
        self.secret = secret
        self.client = client

    @property
    def base(self) -> str:
        return f"/v23.0/{self.business.pk}/message_templates"

    def call(self, method: str, path: str, body: object = None, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.secret}", **extra}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(path, **kwargs)

    def create(self, **overrides: Any) -> Any:
        return self.call("post", self.base, template(**overrides))


def template(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}",
             "example": {"header_text": ["A-1001"]}},
            {"type": "BODY", "text": "Hi {{1}}, your order ships on {{2}}. Thanks!",
             "example": {"body_text": [["Mark", "Monday"]]}},
            {"type": "FOOTER", "text": "Acme Shop"},
            {"type": "BUTTONS", "buttons": [
                {"type": "QUICK_REPLY", "text": "Stop updates"},
                {"type": "URL", "text": "Track", "url": "https://acme.test/track/{{1}}",
                 "example": ["https://acme.test/track/A-1001"]},
            ]},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def named_template(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "welcome_named",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [
            {"type": "BODY", "text": "Hello {{first_name}}, use code {{code}} today!",
             "example": {"body_text_named_params": [
                 {"param_name": "first_name", "example": "Jessica"},
                 {"param_name": "code", "example": "SAVE10"},
             ]}},
        ],
    }  # fmt: skip
    body.update(overrides)
    return body


def make_tenant(factory: Any, client: Client) -> Tenant:
    business = factory.business()
    developer = factory.staff(business, "developer")
    secret = do_create_api_token(developer, name="templates").secret
    return Tenant(business, developer, secret, client)


@pytest.fixture
def tenant(factory: Any, client: Client) -> Tenant:
    return make_tenant(factory, client)


def assert_envelope(response: Any, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["fbtrace_id"]
    return dict(error)
