"""API tokens inside the permission matrix: each holds the scopes chosen at creation, never
more than its creator's role, and every endpoint checks them."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.test import Client

from parley.accounts.actions.demo import do_seed_demo
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import ApiToken, AuditEntry
from parley.accounts.roles import TOKEN_SCOPES, Capability, Role, token_scopes_of
from parley.core.crypto import token_digest
from parley.core.errors import InvalidParameter, PermissionDenied

pytestmark = pytest.mark.django_db

AGENT = {"agent_id": "support-bot", "display_name": "Support", "billing_category": "CONVERSATIONAL"}


def _post_agent(client: Client, secret: str) -> Any:
    return client.post(
        "/parley/v1/billing/agents",
        AGENT,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def _assert_envelope(response: Any, status: int, code: int) -> str:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["type"] and error["fbtrace_id"]
    return str(error["message"])


def test_a_developers_token_cannot_create_billing_agents(client, factory) -> None:
    developer = factory.staff(factory.business(), "developer")
    secret = do_create_api_token(developer, name="CRM").secret
    message = _assert_envelope(_post_agent(client, secret), 403, 10)
    assert "manage_billing" in message
    # What the developer's role allows still works.
    listed = client.get("/parley/v1/billing/agents", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert listed.status_code == 200 and listed.json()["data"] == []


def test_an_administrators_token_creates_agents_only_with_the_scope(client, factory) -> None:
    admin = factory.staff(factory.business(), "administrator")
    with_scope = do_create_api_token(admin, name="billing", scopes=["manage_billing"]).secret
    without = do_create_api_token(admin, name="reader", scopes=["view_billing"]).secret
    _assert_envelope(_post_agent(client, without), 403, 10)
    created = _post_agent(client, with_scope)
    assert created.status_code == 201, created.content
    assert created.json()["agent_id"] == "support-bot"


def test_number_endpoints_check_their_scopes(client, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    reader = do_create_api_token(admin, name="reader", scopes=["view_numbers"]).secret
    billing = do_create_api_token(admin, name="billing", scopes=["view_billing"]).secret
    developer = do_create_api_token(factory.staff(business, "developer"), name="dev").secret
    listing = f"/v23.0/{business.pk}/phone_numbers"
    assert client.get(listing, HTTP_AUTHORIZATION=f"Bearer {reader}").status_code == 200
    assert client.get(listing, HTTP_AUTHORIZATION=f"Bearer {developer}").status_code == 200
    _assert_envelope(client.get(listing, HTTP_AUTHORIZATION=f"Bearer {billing}"), 403, 10)
    # Registering numbers is the administrators' (Register business numbers).
    for secret in (reader, developer):
        response = client.post(
            f"/v23.0/{business.pk}/request_code",
            {"code_method": "SMS", "language": "en_US"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        _assert_envelope(response, 403, 10)


def test_nobody_gives_a_token_more_than_their_role_holds(factory) -> None:
    business = factory.business()
    developer = factory.staff(business, "developer")
    with pytest.raises(PermissionDenied):
        do_create_api_token(developer, name="x", scopes=["view_billing", "manage_billing"])
    with pytest.raises(InvalidParameter):
        do_create_api_token(developer, name="x", scopes=["manage_staff"])  # not a token scope
    with pytest.raises(InvalidParameter):
        do_create_api_token(developer, name="x", scopes=[])
    assert not ApiToken.objects.exists()
    # Without a choice, a token gets exactly what its creator's role may give.
    token = do_create_api_token(developer, name="all").token
    assert token.capabilities == frozenset(token_scopes_of(Role.DEVELOPER))
    assert Capability.MANAGE_BILLING not in token.capabilities
    entry = AuditEntry.objects.get(action="api_token.created")
    assert entry.details["scopes"] == token.scopes


def test_token_scopes_are_a_subset_of_the_matrix() -> None:
    for role in Role:
        for scope in token_scopes_of(role):
            assert scope in TOKEN_SCOPES
            from parley.accounts.roles import role_can

            assert role_can(role, scope)


def test_the_demo_token_does_what_the_readme_shows(client, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    seed = do_seed_demo()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {seed.api_token}"}
    listing = client.get(f"/v23.0/{seed.business.pk}/phone_numbers", **auth)
    assert listing.status_code == 200
    request = client.post(
        f"/v23.0/{seed.number.pk}/request_code",
        {"code_method": "SMS", "language": "en_US"},
        content_type="application/json",
        **auth,
    )
    assert request.status_code == 200, request.content
    assert request.json() == {"success": True}
    assert do_seed_demo().api_token == seed.api_token  # a second run changes nothing


def test_a_demo_token_from_before_scopes_is_replaced(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    seed = do_seed_demo()
    ApiToken.objects.filter(token_hash=token_digest(seed.api_token)).update(scopes=["view_numbers"])
    again = do_seed_demo()
    assert again.api_token != seed.api_token
    assert again.developer_token == seed.developer_token  # its scopes were all there
    assert ApiToken.objects.filter(business=seed.business, revoked_at=None).count() == 2
    fresh = ApiToken.objects.get(token_hash=token_digest(again.api_token), revoked_at=None)
    assert Capability.MANAGE_NUMBERS in fresh.capabilities


def test_the_demo_developers_token_sends_messages(client, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    seed = do_seed_demo()
    assert (tmp_path / "demo-developer-token").read_text() == seed.developer_token
    sent = client.post(
        f"/v23.0/{seed.number.pk}/messages",
        {"messaging_product": "whatsapp", "to": "+919876543210", "type": "text",
         "text": {"body": "Your parcel has shipped"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {seed.developer_token}",
    )  # fmt: skip
    assert sent.status_code == 200, sent.content
    assert sent.json()["messages"][0]["id"].startswith("wamid.")
    refused = client.post(
        f"/v23.0/{seed.number.pk}/messages",
        {"messaging_product": "whatsapp", "to": "+919876543210", "type": "text",
         "text": {"body": "x"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {seed.api_token}",
    )  # fmt: skip
    assert refused.status_code == 403  # the administrator's token may not send


def test_the_migration_gives_existing_tokens_their_creators_scopes(factory) -> None:
    migration = importlib.import_module(
        "parley.accounts.migrations.0002_login_hardening_and_token_scopes"
    )
    business = factory.business()
    admin_token = do_create_api_token(factory.staff(business, "administrator"), name="a").token
    dev_token = do_create_api_token(factory.staff(business, "developer"), name="d").token
    orphan = do_create_api_token(factory.staff(business, "developer"), name="o").token
    ApiToken.objects.update(scopes=[])
    ApiToken.objects.filter(pk=orphan.pk).update(created_by=None)
    migration.scope_existing_tokens(django_apps, None)
    for token, role in ((admin_token, Role.ADMINISTRATOR), (dev_token, Role.DEVELOPER)):
        token.refresh_from_db()
        # The scopes that existed when the migration ran (later ones are granted by hand).
        assert token.scopes == [
            c.value for c in token_scopes_of(role) if c in migration.TOKEN_SCOPES_BY_ROLE[role]
        ]
    orphan.refresh_from_db()
    assert orphan.scopes == ["view_numbers", "view_billing"]


def test_registering_a_business_numbers_relay_device_needs_the_numbers_scope(
    client, factory
) -> None:
    admin = factory.staff(factory.business(), "administrator")
    reader = do_create_api_token(admin, name="reader", scopes=["view_numbers"]).secret
    response = client.post(
        "/relay/v1/accounts",
        {"number": "+14155550100"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {reader}",
    )
    assert "manage_numbers" in _assert_envelope(response, 403, 10)
