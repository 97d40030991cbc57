"""Webhook apps: creation with an encrypted app secret and verify token, the real
verification handshake against a local receiver (pytest-httpserver), subscribing (refused,
writing nothing, when the handshake fails), the per-account override, secret rotation with an
overlap on the simulation clock, and tenant scoping."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from werkzeug import Request, Response

from parley.accounts.models import AuditEntry
from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.webhooks.actions.apps import (
    CallbackVerificationFailed,
    do_create_app,
    do_delete_app,
    do_rotate_secret,
    do_subscribe_app,
    do_unsubscribe_app,
    do_update_app,
    do_verify_callback,
)
from parley.webhooks.destinations import check_url, private_address_warning
from parley.webhooks.models import WebhookApp, WebhookSecret
from parley.webhooks.selectors.apps import (
    get_app,
    list_apps,
    signing_secrets,
    verify_token,
)

pytestmark = pytest.mark.django_db

TOKEN = "open-sesame-4821"


def echo(token: str = TOKEN) -> Any:
    """A receiver that does what Meta asks: the challenge back when the token matches."""

    def handler(request: Request) -> Response:
        args = request.args
        if args.get("hub.mode") != "subscribe" or args.get("hub.verify_token") != token:
            return Response("forbidden", status=403)
        return Response(args.get("hub.challenge", ""), status=200)

    return handler


def _create(business: Any, url: str, **kwargs: Any) -> tuple[WebhookApp, str]:
    options: dict[str, Any] = {
        "name": "CRM",
        "callback_url": url,
        "verify_token": TOKEN,
        "fields": ["messages", "account_update"],
    }
    options.update(kwargs)
    return do_create_app(business, actor_label="test", **options)


def _dump(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # a fixed table name
        return repr(cursor.fetchall())


def test_create_stores_the_secret_and_token_encrypted(factory: Any, httpserver: Any) -> None:
    business = factory.business()
    app, secret = _create(business, httpserver.url_for("/hook"))
    assert len(secret) == 32 and int(secret, 16) >= 0
    assert app.app_id.isdigit() and len(app.app_id) == 15
    assert app.fields == ["messages", "account_update"]
    assert not app.subscribed and not app.is_verified and not app.is_active
    assert signing_secrets(app, clock.now()) == [secret]
    assert verify_token(app) == TOKEN
    for table in ("webhooks_webhookapp", "webhooks_webhooksecret", "accounts_auditentry"):
        dump = _dump(table)
        assert secret not in dump, table
        assert TOKEN not in dump, table
    entry = AuditEntry.objects.get(action="webhooks.app_created", business_ref=business.pk)
    assert entry.details["app_id"] == app.app_id
    assert WebhookSecret.objects.get(app=app).hint == secret[-4:]


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"callback_url": "ftp://example.com/hook"}, "callback_url", "http:// or https://"),
        ({"callback_url": "example.com/hook"}, "callback_url", "http:// or https://"),
        ({"callback_url": "http://user:pw@example.com/"}, "callback_url", "user name"),
        ({"callback_url": "http:///hook"}, "callback_url", "no host"),
        ({"callback_url": "http://example.com:99999/"}, "callback_url", "not valid"),
        ({"callback_url": "http://exa mple.com/"}, "callback_url", "spaces"),
        ({"callback_url": "https://e.com/" + "a" * 2000}, "callback_url", "too long"),
        ({"callback_url": ""}, "callback_url", "Give a callback URL"),
        ({"name": "  "}, "name", "name"),
        ({"name": "x" * 101}, "name", "1 to 100"),
        ({"verify_token": ""}, "verify_token", "verify token"),
        ({"verify_token": "t" * 201}, "verify_token", "1 to 200"),
        ({"verify_token": "a\nb"}, "verify_token", "control"),
        ({"fields": []}, "fields", "at least one"),
        ({"fields": ["messages", "gossip"]}, "fields", "Unknown webhook field"),
        ({"fields": "messages"}, "fields", "list"),
        ({"max_concurrency": 0}, "max_concurrency", "1 to 100"),
        ({"timeout_seconds": 99}, "timeout_seconds", "from 1 to 30"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(
    factory: Any, changes: dict[str, Any], field: str, fragment: str
) -> None:
    business = factory.business()
    with pytest.raises(InvalidParameter) as caught:
        _create(business, "https://hooks.example.com/in", **changes)
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert not WebhookApp.objects.exists()
    assert not AuditEntry.objects.filter(business_ref=business.pk).exists()


def test_the_handshake_verifies_the_callback(factory: Any, httpserver: Any) -> None:
    app, _ = _create(factory.business(), httpserver.url_for("/hook?source=parley"))
    httpserver.expect_request("/hook", method="GET").respond_with_handler(echo())
    result = do_verify_callback(app, actor_label="test")
    assert result.ok, result.error
    assert result.status == 200 and result.latency_ms is not None
    [(request, _response)] = httpserver.log
    # The callback's own query is kept; Meta's three parameters are added.
    assert request.args["source"] == "parley"
    assert request.args["hub.mode"] == "subscribe"
    assert request.args["hub.verify_token"] == TOKEN
    assert request.args["hub.challenge"].isdigit()
    app.refresh_from_db()
    assert app.verified_url == app.callback_url and app.verified_at is not None
    assert app.is_verified and app.handshake_error == ""
    assert not app.is_active  # verified, not subscribed yet
    entry = AuditEntry.objects.get(action="webhooks.app_verified")
    assert TOKEN not in repr(entry.details)


def _redirect(request: Request) -> Response:
    return Response("", status=302, headers={"Location": "/echo"})


def _wrong_body(request: Request) -> Response:
    return Response("OK", status=200)


def _server_error(request: Request) -> Response:
    return Response("boom", status=500)


@pytest.mark.parametrize(
    ("handler", "fragment"),
    [
        (echo("another-token"), "HTTP Status Code = 403; HTTP Message = Forbidden"),
        (_wrong_body, "does not match the challenge"),
        (_redirect, "HTTP Status Code = 302; HTTP Message = Found (redirects are not followed)"),
        (_server_error, "HTTP Status Code = 500"),
    ],
    ids=["wrong-token", "wrong-body", "redirect", "server-error"],
)
def test_a_failed_handshake_refuses_the_subscription_and_writes_nothing(
    factory: Any, httpserver: Any, handler: Any, fragment: str
) -> None:
    business = factory.business()
    app, _ = _create(business, httpserver.url_for("/hook"))
    httpserver.expect_request("/hook", method="GET").respond_with_handler(handler)
    httpserver.expect_request("/echo", method="GET").respond_with_handler(echo())
    before = {f.attname: getattr(app, f.attname) for f in WebhookApp._meta.concrete_fields}
    audits = AuditEntry.objects.count()

    with pytest.raises(CallbackVerificationFailed) as caught:
        do_subscribe_app(app, actor_label="test")
    assert caught.value.code == 2200 and caught.value.http_status == 400
    assert caught.value.message.startswith("(#2200) Callback verification failed")
    assert fragment in caught.value.message

    row = WebhookApp.objects.get(pk=app.pk)
    assert {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields} == before
    assert AuditEntry.objects.count() == audits
    # A redirect is never followed.
    assert [r.path for r, _ in httpserver.log] == ["/hook"]


def test_an_unreachable_callback_fails_with_a_reason(factory: Any) -> None:
    app, _ = _create(factory.business(), "http://127.0.0.1:9/hook")
    with pytest.raises(CallbackVerificationFailed) as caught:
        do_subscribe_app(app, actor_label="test")
    assert "Could not connect" in caught.value.message


def test_a_slow_receiver_times_out(factory: Any, httpserver: Any) -> None:
    app, _ = _create(factory.business(), httpserver.url_for("/slow"), timeout_seconds=1)

    def slow(request: Request) -> Response:
        time.sleep(1.6)
        return Response(request.args["hub.challenge"])

    httpserver.expect_request("/slow").respond_with_handler(slow)
    started = time.monotonic()
    result = do_verify_callback(app, actor_label="test")
    assert time.monotonic() - started < 1.5
    assert not result.ok and "Timed out" in result.error
    app.refresh_from_db()
    assert app.handshake_error == result.error and app.verified_at is None
    # Let the (single-threaded) receiver finish before the next test uses it.
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.05)


def test_subscribe_with_an_override_then_unsubscribe(factory: Any, httpserver: Any) -> None:
    app, _ = _create(factory.business(), httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_handler(echo())
    httpserver.expect_request("/override").respond_with_handler(echo("override-token"))

    # The override needs its own token; without one it is refused before any request.
    with pytest.raises(InvalidParameter) as caught:
        do_subscribe_app(app, httpserver.url_for("/override"), actor_label="test")
    assert caught.value.field == "verify_token"
    with pytest.raises(InvalidParameter):
        do_subscribe_app(app, "ftp://example.com/", "override-token", actor_label="test")
    with pytest.raises(InvalidParameter):  # a token without an override
        do_subscribe_app(app, "", "override-token", actor_label="test")
    assert httpserver.log == []

    row = do_subscribe_app(
        app, httpserver.url_for("/override"), "override-token", actor_label="test"
    )
    assert row.subscribed and row.is_active
    assert row.target_url == httpserver.url_for("/override") == row.verified_url
    assert verify_token(row) == "override-token"
    assert "override-token" not in _dump("webhooks_webhookapp")
    assert "override-token" not in _dump("accounts_auditentry")
    assert [r.path for r, _ in httpserver.log] == ["/override"]

    # Subscribing again without an override removes it (as on the Graph API): the app's own
    # callback is verified with the app's own token.
    row = do_subscribe_app(row, actor_label="test")
    assert row.override_callback_url == "" and row.override_verify_token_encrypted == ""
    assert row.target_url == row.callback_url == row.verified_url and row.is_active
    assert verify_token(row) == TOKEN

    row = do_unsubscribe_app(row, actor_label="test")
    assert not row.subscribed and not row.is_active
    assert AuditEntry.objects.filter(action="webhooks.app_unsubscribed").count() == 1
    do_unsubscribe_app(row, actor_label="test")  # harmless, not audited twice
    assert AuditEntry.objects.filter(action="webhooks.app_unsubscribed").count() == 1


def test_verification_re_enables_a_disabled_app(factory: Any, httpserver: Any) -> None:
    app, _ = _create(factory.business(), httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_handler(echo())
    app = do_subscribe_app(app, actor_label="test")
    now = clock.now()
    WebhookApp.objects.filter(pk=app.pk).update(
        disabled_at=now,
        disabled_reason="The receiver answered 410 Gone.",
        consecutive_failures=7,
        circuit_open_until=now + dt.timedelta(minutes=5),
    )
    app.refresh_from_db()
    assert not app.is_active

    httpserver.clear_all_handlers()
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    result = do_verify_callback(app, actor_label="test")
    assert not result.ok
    app.refresh_from_db()
    assert app.disabled_at is not None and "410" in app.handshake_error

    httpserver.clear_all_handlers()
    httpserver.expect_request("/hook").respond_with_handler(echo())
    assert do_verify_callback(app, actor_label="test").ok
    app.refresh_from_db()
    assert app.disabled_at is None and app.disabled_reason == ""
    assert app.consecutive_failures == 0 and app.circuit_open_until is None
    assert app.is_active and app.handshake_error == ""


def test_rotation_overlaps_on_the_simulation_clock(
    factory: Any, frozen_clock: clock.FrozenClock
) -> None:
    app, first = _create(factory.business(), "https://hooks.example.com/in")
    second = do_rotate_secret(app, actor_label="test")
    assert second != first
    assert signing_secrets(app, clock.now()) == [second, first]
    frozen_clock.advance(hours=23, minutes=59)
    assert signing_secrets(app, clock.now()) == [second, first]
    frozen_clock.advance(minutes=1)
    assert signing_secrets(app, clock.now()) == [second]

    frozen_clock.advance(minutes=1)
    third = do_rotate_secret(app, dt.timedelta(hours=1), actor_label="test")
    # The secret retired earlier is deleted; the one that signed until now overlaps an hour.
    assert WebhookSecret.objects.filter(app=app).count() == 2
    assert signing_secrets(app, clock.now()) == [third, second]
    fourth = do_rotate_secret(app, dt.timedelta(0), actor_label="test")
    assert signing_secrets(app, clock.now()) == [fourth]
    for secret in (first, second, third, fourth):
        assert secret not in _dump("webhooks_webhooksecret")
        assert secret not in _dump("accounts_auditentry")
    assert AuditEntry.objects.filter(action="webhooks.app_secret_rotated").count() == 3
    with pytest.raises(InvalidParameter):
        do_rotate_secret(app, dt.timedelta(days=31), actor_label="test")
    with pytest.raises(InvalidParameter):
        do_rotate_secret(app, dt.timedelta(seconds=-1), actor_label="test")


def test_update_and_delete(factory: Any, httpserver: Any) -> None:
    business = factory.business()
    app, _ = _create(business, httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_handler(echo())
    app = do_subscribe_app(app, actor_label="test")
    assert app.is_active

    app = do_update_app(
        app,
        name="CRM v2",
        callback_url=httpserver.url_for("/v2"),
        verify_token="new-token-77",
        fields=["message_template_status_update", "messages", "messages"],
        max_concurrency=5,
        timeout_seconds=3,
        actor_label="test",
    )
    assert app.name == "CRM v2" and app.max_concurrency == 5 and app.timeout_seconds == 3.0
    assert app.fields == ["messages", "message_template_status_update"]
    # A new callback is not verified until the handshake passes against it.
    assert not app.is_verified and not app.is_active
    assert verify_token(app) == "new-token-77"
    entry = AuditEntry.objects.get(action="webhooks.app_updated")
    assert "new-token-77" not in repr(entry.details)
    assert "verify_token" in entry.details["changed"]

    with pytest.raises(InvalidParameter):
        do_update_app(app, callback_url="ftp://x.example/", actor_label="test")
    assert WebhookApp.objects.get(pk=app.pk).callback_url == httpserver.url_for("/v2")
    assert do_update_app(app, name="CRM v2", actor_label="test") == app  # nothing changed
    assert AuditEntry.objects.filter(action="webhooks.app_updated").count() == 1

    do_delete_app(app, actor_label="test")
    assert not WebhookApp.objects.filter(pk=app.pk).exists()
    assert not WebhookSecret.objects.filter(app_id=app.pk).exists()
    assert AuditEntry.objects.filter(action="webhooks.app_deleted").count() == 1
    do_delete_app(app, actor_label="test")  # already gone: nothing happens


def test_apps_are_tenant_scoped(factory: Any) -> None:
    mine, theirs = factory.business(), factory.business()
    app, _ = _create(mine, "https://hooks.example.com/in")
    other, _ = _create(theirs, "https://hooks.example.com/in", name="Other")
    assert get_app(mine.pk, app.app_id) == app
    assert get_app(theirs.pk, app.app_id) is None
    assert get_app(mine.pk, "not-an-id") is None
    assert list(list_apps(mine.pk)) == [app]
    assert list(list_apps(theirs.pk)) == [other]


def test_url_checks_and_private_address_warnings() -> None:
    assert check_url(" https://hooks.example.com/in?x=1 ") == "https://hooks.example.com/in?x=1"
    assert check_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    for url in (
        "http://127.0.0.1:8080/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.1.1/",
    ):
        assert "private or local" in private_address_warning(url), url
    assert private_address_warning("http://8.8.8.8/hook") == ""
    assert "does not resolve" in private_address_warning("http://no-such-host.invalid/")
