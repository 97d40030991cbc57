"""API tokens through the console: shown once, stored hashed, usable, revocable."""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from parley.accounts.models import ApiToken, AuditEntry
from parley.accounts.roles import token_scopes_of
from tests.frontend.helpers import by_testid, field_error

pytestmark = pytest.mark.django_db


def _secret(html: str) -> str:
    [secret] = by_testid(html, "token-secret")
    return htmllib.unescape(secret)


def _row(html: str, prefix: str) -> str:
    match = re.search(rf'<tr data-token="{prefix}">.*?</tr>', html, re.S)
    assert match is not None
    return match.group(0)


@pytest.mark.parametrize("role", ["administrator", "developer"])
def test_token_lifecycle(role: str, factory: Any, console_client: Any, client: Any) -> None:
    business = factory.business()
    user = factory.staff(business, role)
    web = console_client.as_(user)

    response = web.post("/tokens/", {"name": "CRM sync", "scopes": ["view_numbers"]})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    secret = _secret(page)
    assert secret.startswith("PLY") and len(secret) > 40
    endpoint = f"http://testserver/v23.0/{business.pk}/phone_numbers"
    [curl] = by_testid(page, "curl-example")
    assert f"Authorization: Bearer {secret}" in htmllib.unescape(curl)
    assert endpoint in curl
    assert "shown only once" in page
    assert by_testid(page, "issued-scopes") == ["It may: See business numbers."]

    # Shown once: neither the list page nor the session holds it.
    again = web.get("/tokens/").content.decode()
    assert secret not in again and "CRM sync" in again
    token = ApiToken.objects.get(business=business, name="CRM sync")
    assert token.scopes == ["view_numbers"]
    assert f"PLY{token.prefix}…" in again
    assert "See business numbers" in _row(again, token.prefix)
    session = import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=web.cookies[settings.SESSION_COOKIE_NAME].value
    )
    assert secret not in repr(dict(session.items()))

    # Stored hashed: no column of any table row holds the secret.
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert secret not in repr(cursor.fetchall())
        cursor.execute("SELECT * FROM accounts_auditentry")
        assert secret not in repr(cursor.fetchall())

    # Works as a Bearer token on the Business API …
    api = client.get(f"/v23.0/{business.pk}/phone_numbers", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 200, api.content
    assert api.json()["data"] == []
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert "never" not in _row(web.get("/tokens/").content.decode(), token.prefix)

    # … until it is revoked.
    revoked = web.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert "Token revoked" in revoked.content.decode()
    assert "badge revoked" in _row(revoked.content.decode(), token.prefix)
    api = client.get(f"/v23.0/{business.pk}/phone_numbers", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 401
    assert api.json()["error"]["code"] == 190
    assert (
        AuditEntry.objects.filter(action="api_token.revoked", business_ref=business.pk).count() == 1
    )
    # Revoking twice is harmless.
    assert web.post(f"/tokens/{token.pk}/revoke/").status_code == 302


def test_token_name_is_required(factory: Any, console_client: Any) -> None:
    user = factory.staff(factory.business(), "developer")
    response = console_client.as_(user).post("/tokens/", {"name": "   "})
    assert response.status_code == 200
    assert "This field is required." in field_error(response.content.decode(), "name")
    assert 'data-testid="token-secret"' not in response.content.decode()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", ["administrator", "developer"])
def test_the_form_offers_the_creators_scopes_only(
    role: str, factory: Any, console_client: Any
) -> None:
    user = factory.staff(factory.business(), role)
    page = console_client.as_(user).get("/tokens/").content.decode()
    offered = set(re.findall(r'name="scopes" value="([a-z_]+)"', page))
    assert offered == {c.value for c in token_scopes_of(role)}
    assert ("manage_billing" in offered) is (role == "administrator")
    # Every offered scope starts checked: a user who only names the token gets them all.
    assert page.count('name="scopes"') == page.count("checked")


def test_a_scope_beyond_the_role_is_refused(factory: Any, console_client: Any) -> None:
    user = factory.staff(factory.business(), "developer")
    response = console_client.as_(user).post(
        "/tokens/", {"name": "sneaky", "scopes": ["view_billing", "manage_billing"]}
    )
    assert response.status_code == 200
    assert "manage_billing" in field_error(response.content.decode(), "scopes")
    assert not ApiToken.objects.exists()
    empty = console_client.as_(user).post("/tokens/", {"name": "none"})
    assert "Choose at least one permission" in field_error(empty.content.decode(), "scopes")
    assert not ApiToken.objects.exists()


def test_the_tokens_page_is_never_cached(factory: Any, console_client: Any) -> None:
    user = factory.staff(factory.business(), "administrator")
    assert console_client.as_(user).get("/tokens/")["Cache-Control"] == "no-store"


def test_get_never_creates_a_token(factory: Any, console_client: Any) -> None:
    user = factory.staff(factory.business(), "administrator")
    console_client.as_(user).get("/tokens/?name=sneaky")
    assert not ApiToken.objects.exists()
