"""The console's Webhooks pages: administrators and developers only; apps created with form
errors shown and the secret shown once; subscribing runs the real handshake against a local
receiver and is refused (nothing written) when it fails; verify, rotate, test events, the
private-address warning; the delivery log with search, detail and replay; and the same in
headless Chromium."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import re
from typing import Any

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from parley.accounts.models import AuditEntry
from parley.accounts.roles import Role
from parley.core import clock
from parley.webhooks.actions.apps import do_create_app
from parley.webhooks.models import WebhookApp, WebhookAttempt, WebhookDelivery
from tests.frontend.helpers import by_testid, field_error
from tests.frontend.test_browser import _log_in
from tests.parley.webhooks.conftest import echo as webhook_echo

TOKEN = "console-verify-token"


def echo(token: str = TOKEN) -> Any:
    return webhook_echo(token)


def _create_form(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "CRM",
        "callback_url": url,
        "verify_token": TOKEN,
        "webhook_fields": ["messages", "message_template_status_update"],
        "max_concurrency": "20",
        "timeout_seconds": "10",
        **extra,
    }


def _dump(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # a fixed table name
        return repr(cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_only_administrators_and_developers_open_the_pages(
    role: Role, factory: Any, console_client: Any
) -> None:
    business = factory.business()
    app, _ = do_create_app(business, "CRM", "https://hooks.example.com/in", TOKEN, ["messages"])
    user = factory.staff(business, role.value)
    client = console_client.as_(user)
    allowed = role in (Role.ADMINISTRATOR, Role.DEVELOPER)
    for url in ["/webhooks/", f"/webhooks/{app.app_id}/", "/webhooks/deliveries/"]:
        assert client.get(url).status_code == (200 if allowed else 403), url
    for url in [f"/webhooks/{app.app_id}/verify/", f"/webhooks/{app.app_id}/delete/",
                "/webhooks/deliveries/replay/"]:  # fmt: skip
        response = client.post(url)
        assert (response.status_code == 403) is not allowed, url
    posted = client.post("/webhooks/", _create_form("https://hooks.example.com/other"))
    assert posted.status_code == (200 if allowed else 403)
    nav = client.get("/").content.decode()
    assert ('href="/webhooks/"' in nav) is allowed
    if not allowed:
        assert WebhookApp.objects.filter(business=business).count() == 1


@pytest.mark.django_db
def test_create_shows_the_secret_once_and_errors_on_the_form(
    factory: Any, console_client: Any, httpserver: Any
) -> None:
    business = factory.business()
    user = factory.staff(business, "developer")
    web = console_client.as_(user)

    bad = web.post("/webhooks/", _create_form("ftp://files.example.com/in", verify_token=""))
    assert bad.status_code == 200
    page = bad.content.decode()
    assert "This field is required." in field_error(page, "verify_token")
    assert not WebhookApp.objects.exists()
    bad = web.post("/webhooks/", _create_form("ftp://files.example.com/in"))
    assert "http:// or https://" in field_error(bad.content.decode(), "callback_url")
    bad = web.post(
        "/webhooks/", _create_form("https://e.example/", webhook_fields=[], name="x" * 500)
    )
    page = bad.content.decode()
    assert "This field is required." in field_error(page, "webhook_fields")
    assert "at most 100 characters" in field_error(page, "name")
    assert not WebhookApp.objects.exists()

    created = web.post("/webhooks/", _create_form(httpserver.url_for("/hook")))
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    page = created.content.decode()
    [secret] = by_testid(page, "app-secret")
    secret = htmllib.unescape(secret)
    assert re.fullmatch(r"[0-9a-f]{32}", secret)
    assert "shown only once" in page
    app = WebhookApp.objects.get(business=business)
    assert app.fields == ["messages", "message_template_status_update"]
    # A local receiver: the console warns (not an error).
    assert "private or local address" in " ".join(by_testid(page, "private-warning"))

    again = web.get(f"/webhooks/{app.app_id}/").content.decode()
    assert secret not in again and TOKEN not in again
    assert f"…{secret[-4:]}" in again
    listing = web.get("/webhooks/").content.decode()
    assert secret not in listing and f'data-app="{app.app_id}"' in listing
    for table in ("webhooks_webhookapp", "webhooks_webhooksecret", "accounts_auditentry",
                  "django_session"):  # fmt: skip
        assert secret not in _dump(table) and TOKEN not in _dump(table), table


@pytest.mark.django_db
def test_subscribe_verify_rotate_and_test(
    factory: Any, console_client: Any, httpserver: Any
) -> None:
    business = factory.business()
    user = factory.staff(business, "administrator")
    web = console_client.as_(user)
    app, _ = do_create_app(business, "CRM", httpserver.url_for("/hook"), TOKEN, ["messages"])
    base = f"/webhooks/{app.app_id}/"

    # The receiver refuses the token: the subscription is refused, nothing is written.
    httpserver.expect_request("/hook").respond_with_handler(echo("something-else"))
    refused = web.post(base + "subscribe/", {})
    assert refused.status_code == 200
    assert "Callback verification failed" in refused.content.decode()
    assert "HTTP Status Code = 403" in refused.content.decode()
    app.refresh_from_db()
    assert not app.subscribed and app.verified_at is None and app.handshake_error == ""
    assert not AuditEntry.objects.filter(action="webhooks.app_subscribed").exists()

    httpserver.clear_all_handlers()
    httpserver.expect_request("/hook").respond_with_handler(echo())
    httpserver.expect_request("/override").respond_with_handler(echo("override-token"))
    missing = web.post(
        base + "subscribe/", {"override_callback_url": httpserver.url_for("/override")}
    )
    assert "verify token" in field_error(missing.content.decode(), "override_verify_token")
    ok = web.post(base + "subscribe/", {}, follow=True)
    page = ok.content.decode()
    assert "Subscribed: webhooks now go to" in page
    assert '<span class="badge verified">subscribed</span>' in page
    app.refresh_from_db()
    assert app.is_active

    ok = web.post(
        base + "subscribe/",
        {"override_callback_url": httpserver.url_for("/override"),
         "override_verify_token": "override-token"},
        follow=True,
    )  # fmt: skip
    assert by_testid(ok.content.decode(), "app-override") == [httpserver.url_for("/override")]

    verified = web.post(base + "verify/").content.decode()
    assert "Verified:" in " ".join(by_testid(verified, "handshake-result"))
    httpserver.clear_all_handlers()
    httpserver.expect_request("/override").respond_with_data("nope", status=500)
    failed = web.post(base + "verify/").content.decode()
    assert "HTTP Status Code = 500" in " ".join(by_testid(failed, "handshake-result"))
    assert "HTTP Status Code = 500" in " ".join(by_testid(failed, "app-handshake-error"))

    rotated = web.post(base + "secret/", {"overlap_hours": "24"})
    assert rotated["Cache-Control"] == "no-store"
    [new_secret] = by_testid(rotated.content.decode(), "app-secret")
    assert new_secret not in web.get(base).content.decode()
    shown = re.search(r'data-testid="app-secrets">(.*?)</dd>', web.get(base).content.decode())
    assert shown is not None and shown.group(1).count("(since") == 2

    tested = web.post(base + "test/", {"field": "messages"}, follow=True).content.decode()
    assert "Test event for messages queued" in tested
    assert AuditEntry.objects.filter(action="webhooks.test_requested").exists()
    bad = web.post(base + "test/", {"field": "gossip"}, follow=True).content.decode()
    assert "Choose a webhook field" in bad

    edited = web.post(
        base,
        {"name": "CRM 2", "callback_url": "gopher://x.example/", "verify_token": "",
         "webhook_fields": ["messages"], "max_concurrency": "5", "timeout_seconds": "3"},
    )  # fmt: skip
    assert "http:// or https://" in field_error(edited.content.decode(), "callback_url")
    edited = web.post(
        base,
        {"name": "CRM 2", "callback_url": httpserver.url_for("/hook"), "verify_token": "",
         "webhook_fields": ["messages", "account_update"], "max_concurrency": "5",
         "timeout_seconds": "3"},
        follow=True,
    )  # fmt: skip
    assert "Settings saved." in edited.content.decode()
    app.refresh_from_db()
    assert app.name == "CRM 2" and app.fields == ["messages", "account_update"]
    assert app.max_concurrency == 5

    unsubscribed = web.post(base + "unsubscribe/", follow=True).content.decode()
    assert "Unsubscribed" in unsubscribed
    deleted = web.post(base + "delete/", follow=True).content.decode()
    assert "Deleted the webhook app CRM 2" in deleted
    assert not WebhookApp.objects.filter(pk=app.pk).exists()


@pytest.mark.django_db
def test_another_business_app_and_delivery_are_not_found(factory: Any, console_client: Any) -> None:
    mine, theirs = factory.business(), factory.business()
    app, _ = do_create_app(theirs, "Theirs", "https://hooks.example.com/in", TOKEN, ["messages"])
    delivery = _delivery(app, 1, "dead", "wamid.THEIRS")
    web = console_client.as_(factory.staff(mine, "administrator"))
    for url in [f"/webhooks/{app.app_id}/", "/webhooks/123/", "/webhooks/99999999999999999999/",
                f"/webhooks/deliveries/{delivery.pk}/"]:  # fmt: skip
        assert web.get(url).status_code == 404, url
    for url in [f"/webhooks/{app.app_id}/verify/", f"/webhooks/{app.app_id}/delete/",
                f"/webhooks/deliveries/{delivery.pk}/replay/"]:  # fmt: skip
        assert web.post(url).status_code == 404, url
    assert WebhookApp.objects.filter(pk=app.pk).exists()
    assert "wamid.THEIRS" not in web.get("/webhooks/deliveries/").content.decode()


def _delivery(app: WebhookApp, n: int, state: str, message_id: str) -> WebhookDelivery:
    now = clock.now()
    delivery = WebhookDelivery.objects.create(
        app=app, business_id=app.business_id, stream_id=n, webhook_id=f"msg_{n}_{app.app_id}",
        field="messages", event="message.status_changed", message_id=message_id,
        body=json.dumps({"object": "whatsapp_business_account", "n": n}), state=state,
        attempts=1, created_at=now - dt.timedelta(minutes=n), next_attempt_at=now,
        last_status=500,
    )  # fmt: skip
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, url=app.callback_url, started_at=now, latency_ms=42.0,
        request_headers={"X-Hub-Signature-256": "sha256=feedface"}, response_status=500,
        response_excerpt="receiver exploded",
        next_retry_at=now + dt.timedelta(seconds=30) if state == "pending" else None,
    )  # fmt: skip
    return delivery


@pytest.mark.django_db
def test_the_delivery_log_search_detail_and_replay(factory: Any, console_client: Any) -> None:
    business = factory.business()
    app, _ = do_create_app(business, "CRM", "https://hooks.example.com/in", TOKEN, ["messages"])
    dead = _delivery(app, 1, "dead", "wamid.AAA")
    _delivery(app, 2, "delivered", "wamid.BBB")
    for n in range(3, 60):
        _delivery(app, n, "pending", f"wamid.P{n}")
    web = console_client.as_(factory.staff(business, "developer"))

    log = web.get("/webhooks/deliveries/").content.decode()
    assert "Showing 1\u201350 of 59 deliveries" in log and 'data-testid="pager"' in log
    found = web.get("/webhooks/deliveries/?message_id=wamid.AAA").content.decode()
    assert found.count("data-delivery=") == 1 and f'data-delivery="{dead.pk}"' in found
    dead_only = web.get("/webhooks/deliveries/?state=dead").content.decode()
    assert dead_only.count("data-delivery=") == 1
    nothing = web.get("/webhooks/deliveries/?message_id=wamid.none").content.decode()
    assert "No delivery matches these filters." in nothing
    assert web.get("/webhooks/deliveries/?state=bogus&app=1").status_code == 200

    detail = web.get(f"/webhooks/deliveries/{dead.pk}/").content.decode()
    assert "sha256=feedface" in detail and "receiver exploded" in detail
    assert "42 ms" in detail and "&quot;n&quot;: 1" in detail

    replayed = web.post(f"/webhooks/deliveries/{dead.pk}/replay/", follow=True).content.decode()
    assert "Replaying" in replayed
    dead.refresh_from_db()
    assert dead.state == "pending"

    WebhookDelivery.objects.filter(pk=dead.pk).update(state="dead")
    bulk = web.post("/webhooks/deliveries/replay/", {"scope": "dead", "app": app.app_id},
                    follow=True).content.decode()  # fmt: skip
    assert "Replaying 1 delivery." in bulk
    wrong = web.post(
        "/webhooks/deliveries/replay/",
        {"scope": "dead", "since": "2026-03-02T10:00", "until": "2026-03-02T09:00"},
        follow=True,
    ).content.decode()
    assert "Nothing replayed" in wrong


# -- in the browser --------------------------------------------------------------------------


def test_a_developer_sets_up_a_webhook_in_the_browser(
    page: Page, asgi_server: str, factory: Any, httpserver: Any
) -> None:
    business = factory.business()
    developer = factory.staff(business, "developer")
    httpserver.expect_request("/hook").respond_with_handler(echo())
    _log_in(page, asgi_server, developer)
    page.get_by_role("link", name="Webhooks").click()
    expect(page).to_have_url(f"{asgi_server}/webhooks/")

    form = page.get_by_test_id("app-create")
    form.locator("input[name=name]").fill("Order system")
    form.locator("input[name=callback_url]").fill("ftp://files.example.com/hook")
    form.locator("input[name=verify_token]").fill(TOKEN)
    form.get_by_label("message_template_status_update").check()
    form.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("error-callback_url")).to_contain_text("http:// or https://")

    form = page.get_by_test_id("app-create")
    form.locator("input[name=callback_url]").fill(httpserver.url_for("/hook"))
    form.locator("input[name=verify_token]").fill(TOKEN)
    form.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("app-secret")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    expect(page.get_by_test_id("private-warning").first).to_contain_text("private or local")
    app = WebhookApp.objects.get(business=business)
    assert app.fields == ["messages", "message_template_status_update"]

    page.get_by_role("button", name="Verify callback").click()
    expect(page.get_by_test_id("handshake-result")).to_contain_text("Verified:")
    page.get_by_test_id("app-subscribe").get_by_role("button", name="Subscribe").click()
    expect(page.locator(".flash")).to_contain_text("Subscribed")
    expect(page.get_by_test_id("app-status").first).to_contain_text("receiving")

    page.get_by_test_id("app-test").locator("select").select_option("messages")
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator(".flash")).to_contain_text("Test event for messages queued")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_test_id("app-secret")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    expect(page.get_by_test_id("app-secrets")).to_contain_text(";")

    page.get_by_role("link", name="log", exact=True).click()
    expect(page.get_by_test_id("delivery-filters")).to_be_visible()
    page.get_by_test_id("delivery-search").fill("wamid.nothing")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("deliveries-showing")).to_contain_text("No delivery matches")
    app.refresh_from_db()
    assert app.is_active


def test_an_agent_is_refused_in_the_browser(page: Page, asgi_server: str, factory: Any) -> None:
    agent = factory.staff(factory.business(), "agent")
    _log_in(page, asgi_server, agent)
    expect(page.get_by_role("link", name="Webhooks")).to_have_count(0)
    response = page.goto(f"{asgi_server}/webhooks/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
