"""Webhooks over the API: Meta's `subscribed_apps` (GET/POST/DELETE, the handshake against a
real local receiver, code 2200 when it fails), Parley's `/parley/v1/webhooks/…` endpoints
(apps, secrets shown once, verify, rotate, test events, the delivery log and replays), tenant
isolation, the token permission, and bad input answered in Meta's envelope (never a 500)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry
from parley.core import clock
from parley.webhooks.models import WebhookApp, WebhookAttempt, WebhookDelivery
from tests.parley.webhooks.conftest import echo as webhook_echo

pytestmark = pytest.mark.django_db

V = "v23.0"
TOKEN = "verify-me-please"


def echo(token: str = TOKEN) -> Any:
    return webhook_echo(token)


class Api:
    """A Django test client speaking JSON with one Bearer token."""

    def __init__(self, secret: str) -> None:
        self.client = Client()
        self.auth = f"Bearer {secret}"

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = self.client.generic(
            method,
            path,
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=self.auth,
        )
        assert response.status_code < 500, response.content
        assert response["Content-Type"].startswith("application/json")
        return response

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


@pytest.fixture
def tenant(factory: Any) -> Any:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    return business, Api(do_create_api_token(admin, name="hooks").secret), admin


def _error(response: Any, status: int, code: int = 100) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code", "fbtrace_id"} <= set(body["error"])
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def _create(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/parley/v1/webhooks/apps",
        {"name": "CRM", "callback_url": url, "verify_token": TOKEN, **extra},
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def _everything(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # a fixed table name
        return repr(cursor.fetchall())


def test_apps_crud_and_the_secret_is_shown_once(tenant: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    created = api.post(
        "/parley/v1/webhooks/apps",
        {"name": "CRM", "callback_url": httpserver.url_for("/hook"), "verify_token": TOKEN,
         "fields": ["messages", "phone_number_quality_update"], "max_concurrency": 4},
    )  # fmt: skip
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    secret = body["secret"]
    assert len(secret) == 32
    assert body["fields"] == ["messages", "phone_number_quality_update"]
    assert body["subscribed"] is False and body["verified"] is False
    assert body["max_concurrency"] == 4 and body["secrets"][0]["hint"] == secret[-4:]
    app_id = body["id"]

    listed = api.get("/parley/v1/webhooks/apps")
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["data"]] == [app_id]
    one = api.get(f"/parley/v1/webhooks/apps/{app_id}")
    assert one.json()["name"] == "CRM"
    for response in (listed, one):
        assert secret not in response.content.decode()
        assert TOKEN not in response.content.decode()
        assert "secret" not in response.json().get("data", [response.json()])[0]
    for table in ("webhooks_webhookapp", "webhooks_webhooksecret", "accounts_auditentry"):
        assert secret not in _everything(table) and TOKEN not in _everything(table)

    patched = api.patch(
        f"/parley/v1/webhooks/apps/{app_id}",
        {"name": "CRM 2", "fields": ["account_update"], "verify_token": "changed-token"},
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "CRM 2" and patched.json()["fields"] == ["account_update"]
    assert "changed-token" not in patched.content.decode()

    rotated = api.post(f"/parley/v1/webhooks/apps/{app_id}/secret", {"overlap_seconds": 60})
    assert rotated.status_code == 200, rotated.content
    assert rotated["Cache-Control"] == "no-store"
    new_secret = rotated.json()["secret"]
    assert new_secret != secret and len(rotated.json()["secrets"]) == 2
    again = api.get(f"/parley/v1/webhooks/apps/{app_id}").content.decode()
    assert new_secret not in again and secret not in again

    deleted = api.delete(f"/parley/v1/webhooks/apps/{app_id}")
    assert deleted.json() == {"success": True}
    _error(api.get(f"/parley/v1/webhooks/apps/{app_id}"), 404)
    assert not WebhookApp.objects.filter(business=business).exists()


def test_subscribed_apps_in_metas_shapes(tenant: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    edge = f"/{V}/{business.pk}/subscribed_apps"
    assert api.get(edge).json() == {"data": []}
    # No app yet: nothing to subscribe.
    _error(api.post(edge, {}), 404)

    first = _create(api, httpserver.url_for("/hook"))
    second = _create(api, httpserver.url_for("/second"), name="Second")
    httpserver.expect_request("/hook").respond_with_handler(echo())
    httpserver.expect_request("/second").respond_with_handler(echo())
    httpserver.expect_request("/override").respond_with_handler(echo("override-token"))

    # Without app_id: the oldest app.
    assert api.post(edge).json() == {"success": True}
    listed = api.get(edge).json()["data"]
    assert listed == [
        {
            "whatsapp_business_api_data": {
                "id": first["id"],
                "name": "CRM",
                "link": f"http://testserver/webhooks/{first['id']}/",
            }
        }
    ]
    # With app_id (Parley's extension) and an override callback with its own token.
    answer = api.post(
        f"{edge}?app_id={second['id']}",
        {
            "override_callback_uri": httpserver.url_for("/override"),
            "verify_token": "override-token",
        },
    )
    assert answer.json() == {"success": True}
    data = api.get(f"{edge}?fields=id,name").json()["data"]
    assert data[1] == {
        "whatsapp_business_api_data": {"id": second["id"], "name": "Second"},
        "override_callback_uri": httpserver.url_for("/override"),
    }
    node = api.get(f"/parley/v1/webhooks/apps/{second['id']}").json()
    assert node["active"] and node["target_url"] == httpserver.url_for("/override")
    assert "override-token" not in json.dumps(node)

    assert api.delete(f"{edge}?app_id={second['id']}").json() == {"success": True}
    assert [d["whatsapp_business_api_data"]["id"] for d in api.get(edge).json()["data"]] == [
        first["id"]
    ]
    assert api.delete(edge).json() == {"success": True}
    assert api.get(edge).json() == {"data": []}
    _error(api.get(f"{edge}?fields=secret"), 400)


def test_a_failed_handshake_is_metas_2200_and_changes_nothing(tenant: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    app = _create(api, httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data(
        "", status=302, headers={"Location": "/elsewhere"}
    )
    audits = AuditEntry.objects.count()
    error = _error(api.post(f"/{V}/{business.pk}/subscribed_apps", {}), 400, code=2200)
    assert error["message"].startswith("(#2200) Callback verification failed")
    assert "302" in error["message"]
    row = WebhookApp.objects.get(app_id=app["id"])
    assert not row.subscribed and row.verified_at is None
    assert AuditEntry.objects.count() == audits

    # The verify endpoint records the result instead of refusing.
    verified = api.post(f"/parley/v1/webhooks/apps/{app['id']}/verify")
    assert verified.status_code == 200
    result = verified.json()
    assert result["verified"] is False and result["status"] == 302
    assert result["app"]["handshake_error"] == result["error"] != ""
    httpserver.clear_all_handlers()
    httpserver.expect_request("/hook").respond_with_handler(echo())
    result = api.post(f"/parley/v1/webhooks/apps/{app['id']}/verify").json()
    assert result["verified"] is True and result["app"]["verified"] is True
    assert result["app"]["handshake_error"] == ""


def test_tenants_cannot_reach_each_other(tenant: Any, factory: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    other = factory.business()
    other_admin = factory.staff(other, "administrator")
    other_api = Api(do_create_api_token(other_admin, name="other").secret)
    theirs = _create(other_api, httpserver.url_for("/theirs"))
    _create(api, httpserver.url_for("/mine"))

    for method, path in [
        ("GET", f"/parley/v1/webhooks/apps/{theirs['id']}"),
        ("PATCH", f"/parley/v1/webhooks/apps/{theirs['id']}"),
        ("DELETE", f"/parley/v1/webhooks/apps/{theirs['id']}"),
        ("POST", f"/parley/v1/webhooks/apps/{theirs['id']}/verify"),
        ("POST", f"/parley/v1/webhooks/apps/{theirs['id']}/secret"),
        ("POST", f"/parley/v1/webhooks/apps/{theirs['id']}/test"),
        ("POST", f"/{V}/{business.pk}/subscribed_apps?app_id={theirs['id']}"),
        ("DELETE", f"/{V}/{business.pk}/subscribed_apps?app_id={theirs['id']}"),
        ("GET", f"/{V}/{other.pk}/subscribed_apps"),
        ("POST", f"/{V}/{other.pk}/subscribed_apps"),
    ]:
        error = _error(api.call(method, path, {"field": "messages"}), 404)
        assert error.get("error_subcode") == 33, (method, path)
    _error(api.post("/parley/v1/webhooks/deliveries/replay", {"app_id": theirs["id"]}), 404)
    assert [a["id"] for a in api.get("/parley/v1/webhooks/apps").json()["data"]] != [theirs["id"]]
    assert httpserver.log == []
    assert WebhookApp.objects.get(app_id=theirs["id"]).name == "CRM"


def test_the_token_needs_the_webhooks_permission(tenant: Any, httpserver: Any) -> None:
    business, api, admin = tenant
    narrow = Api(do_create_api_token(admin, name="numbers", scopes=["view_numbers"]).secret)
    app = _create(api, httpserver.url_for("/hook"))
    for method, path in [
        ("GET", "/parley/v1/webhooks/apps"),
        ("POST", "/parley/v1/webhooks/apps"),
        ("GET", f"/parley/v1/webhooks/apps/{app['id']}"),
        ("POST", f"/parley/v1/webhooks/apps/{app['id']}/secret"),
        ("GET", "/parley/v1/webhooks/deliveries"),
        ("POST", "/parley/v1/webhooks/deliveries/replay"),
        ("GET", f"/{V}/{business.pk}/subscribed_apps"),
        ("POST", f"/{V}/{business.pk}/subscribed_apps"),
        ("DELETE", f"/{V}/{business.pk}/subscribed_apps"),
    ]:
        error = _error(narrow.call(method, path, {}), 403, code=10)
        assert "manage_webhooks" in error["message"], (method, path)
    anonymous = Client().get("/parley/v1/webhooks/apps")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == 190


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "Invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"name": 5, "callback_url": "https://e.example/", "verify_token": "t"}', "name"),
        ('{"name": "A", "callback_url": "ftp://e.example/", "verify_token": "t"}', "callback_url"),
        ('{"name": "A", "callback_url": "https://e.example/", "verify_token": "t", '
         '"fields": "messages"}', "fields"),
        ('{"name": "A", "callback_url": "https://e.example/", "verify_token": "t", '
         '"fields": ["gossip"]}', "fields"),
        ('{"name": "A", "callback_url": "https://e.example/", "verify_token": "t", '
         '"max_concurrency": "many"}', "max_concurrency"),
        ('{"name": "A", "callback_url": "https://e.example/", "verify_token": "t", '
         '"timeout_seconds": 1e400}', ""),
        ('{"name": "' + "x" * 5000 + '", "callback_url": "https://e.example/", '
         '"verify_token": "t"}', "name"),
        ('{"name": "A", "callback_url": "https://e.example/' + "a" * 50_000 + '", '
         '"verify_token": "t"}', "callback_url"),
        ('{"name": "A", "callback_url": "https://e.example/", "verify_token": "'
         + "t" * 300 + '"}', "verify_token"),
        ('{"name": "   ", "callback_url": "https://e.example/", "verify_token": "t"}', "name"),
        ('{"callback_url": "https://e.example/", "verify_token": "t"}', "name"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error_and_writes_nothing(
    tenant: Any, raw: str, fragment: str
) -> None:
    _, api, _ = tenant
    response = api.post("/parley/v1/webhooks/apps", raw=raw)
    assert response.status_code in (400, 413), response.content
    assert response.json()["error"]["code"] == 100
    assert fragment in response.json()["error"]["message"]
    assert not WebhookApp.objects.exists()


def test_bad_input_elsewhere(tenant: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    app = _create(api, httpserver.url_for("/hook"))
    edge = f"/{V}/{business.pk}/subscribed_apps"
    for body in [
        {"override_callback_uri": "ftp://e.example/", "verify_token": "x"},
        {"override_callback_uri": "https://e.example/"},  # no verify token
        {"verify_token": "x"},  # a token without an override
        {"override_callback_uri": 5, "verify_token": "x"},
        {"app_id": "abc"},
    ]:
        _error(api.post(edge, body), 400)
    _error(api.post(f"{edge}?app_id=abc"), 400)
    _error(api.patch(f"/parley/v1/webhooks/apps/{app['id']}", {"callback_url": "gopher://x/"}),
           400)  # fmt: skip
    _error(api.patch(f"/parley/v1/webhooks/apps/{app['id']}", {"fields": []}), 400)
    _error(api.post(f"/parley/v1/webhooks/apps/{app['id']}/secret", {"overlap_seconds": -1}),
           400)  # fmt: skip
    _error(api.post(f"/parley/v1/webhooks/apps/{app['id']}/test", {"field": "gossip"}), 400)
    _error(api.post(f"/parley/v1/webhooks/apps/{app['id']}/test", {}), 400)
    for query in ["state=lost", "since=yesterday", "until=2026-13-40T00:00", "app_id=x",
                  "message_id=" + "w" * 200, "limit=0", "after=-5"]:  # fmt: skip
        _error(api.get(f"/parley/v1/webhooks/deliveries?{query}"), 400)
    for body in [{"state": "some"}, {"since": "soon"}, {"since": 20, "until": 10}, []]:
        _error(api.post("/parley/v1/webhooks/deliveries/replay", body), 400)
    for path in [
        "/parley/v1/webhooks/deliveries/99999999999999999999",
        "/parley/v1/webhooks/deliveries/123",
        "/parley/v1/webhooks/apps/123456789012345678901",
    ]:
        response = api.get(path)
        assert response.status_code == 404 and "error" in response.json(), path
    assert httpserver.log == []


def test_a_test_event_is_published(tenant: Any, httpserver: Any) -> None:
    _, api, _ = tenant
    app = _create(api, httpserver.url_for("/hook"))
    response = api.post(
        f"/parley/v1/webhooks/apps/{app['id']}/test", {"field": "message_template_status_update"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert int(response.json()["stream_id"]) > 0


def _delivery(app: WebhookApp, n: int, *, state: str, message_id: str = "") -> WebhookDelivery:
    now = clock.now()
    delivery = WebhookDelivery.objects.create(
        app=app, business_id=app.business_id, stream_id=n, webhook_id=f"msg_{n}_{app.app_id}",
        field="messages", event="message.status_changed", message_id=message_id,
        body=json.dumps({"object": "whatsapp_business_account", "n": n}), state=state,
        attempts=1, created_at=now - dt.timedelta(minutes=10 - n), next_attempt_at=now,
    )  # fmt: skip
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, url=app.callback_url, started_at=now, latency_ms=12.5,
        request_headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=ab"},
        response_status=500 if state != "delivered" else 200, response_excerpt="nope",
        next_retry_at=now + dt.timedelta(seconds=30) if state == "pending" else None,
    )  # fmt: skip
    return delivery


def test_the_delivery_log_and_replays(tenant: Any, factory: Any, httpserver: Any) -> None:
    business, api, _ = tenant
    app = WebhookApp.objects.get(app_id=_create(api, httpserver.url_for("/hook"))["id"])
    other_api_business = factory.business()
    other_admin = factory.staff(other_api_business, "administrator")
    other_api = Api(do_create_api_token(other_admin, name="o").secret)
    other_app = WebhookApp.objects.get(app_id=_create(other_api, httpserver.url_for("/o"))["id"])

    dead = _delivery(app, 1, state="dead", message_id="wamid.ABC=")
    delivered = _delivery(app, 2, state="delivered", message_id="wamid.ABC=")
    pending = _delivery(app, 3, state="pending", message_id="wamid.XYZ")
    theirs = _delivery(other_app, 4, state="dead", message_id="wamid.ABC=")

    log = api.get("/parley/v1/webhooks/deliveries").json()
    assert [d["id"] for d in log["data"]] == [str(pending.pk), str(delivered.pk), str(dead.pk)]
    assert log["data"][0]["next_attempt_at"] is not None
    assert log["data"][1]["next_attempt_at"] is None
    by_message = api.get("/parley/v1/webhooks/deliveries?message_id=wamid.ABC%3D").json()["data"]
    assert [d["id"] for d in by_message] == [str(delivered.pk), str(dead.pk)]
    dead_only = api.get("/parley/v1/webhooks/deliveries?state=dead").json()["data"]
    assert [d["id"] for d in dead_only] == [str(dead.pk)]
    by_app = api.get(f"/parley/v1/webhooks/deliveries?app_id={app.app_id}").json()["data"]
    assert len(by_app) == 3
    since = int((clock.now() - dt.timedelta(minutes=8, seconds=30)).timestamp())
    recent = api.get(f"/parley/v1/webhooks/deliveries?since={since}").json()["data"]
    assert [d["id"] for d in recent] == [str(pending.pk), str(delivered.pk)]
    iso = (clock.now() - dt.timedelta(minutes=8, seconds=30)).isoformat().replace("+00:00", "Z")
    before = api.get(f"/parley/v1/webhooks/deliveries?until={iso}").json()["data"]
    assert [d["id"] for d in before] == [str(dead.pk)]

    # Newest first, page by page.
    first = api.get("/parley/v1/webhooks/deliveries?limit=2").json()
    assert [d["id"] for d in first["data"]] == [str(pending.pk), str(delivered.pk)]
    assert "next" in first["paging"]
    after = first["paging"]["cursors"]["after"]
    second = api.get(f"/parley/v1/webhooks/deliveries?limit=2&after={after}").json()
    assert [d["id"] for d in second["data"]] == [str(dead.pk)] and "next" not in second["paging"]

    detail = api.get(f"/parley/v1/webhooks/deliveries/{dead.pk}").json()
    assert json.loads(detail["body"])["n"] == 1
    [attempt] = detail["attempt_log"]
    assert attempt["number"] == 1 and attempt["response_status"] == 500
    assert attempt["request_headers"]["X-Hub-Signature-256"] == "sha256=ab"
    assert attempt["latency_ms"] == 12.5 and attempt["response_excerpt"] == "nope"
    _error(api.get(f"/parley/v1/webhooks/deliveries/{theirs.pk}"), 404)
    _error(api.post(f"/parley/v1/webhooks/deliveries/{theirs.pk}/replay"), 404)

    replayed = api.post(f"/parley/v1/webhooks/deliveries/{delivered.pk}/replay")
    assert replayed.status_code == 200, replayed.content
    assert replayed.json()["state"] == "pending"
    bulk = api.post("/parley/v1/webhooks/deliveries/replay", {"state": "dead"})
    assert bulk.json() == {"replayed": 1}
    dead.refresh_from_db()
    theirs.refresh_from_db()
    assert dead.state == "pending" and theirs.state == "dead"
    assert api.post("/parley/v1/webhooks/deliveries/replay", {}).json() == {"replayed": 0}
    assert AuditEntry.objects.filter(business_ref=business.pk, action="webhooks.replayed").exists()


def test_the_schema_documents_every_webhook_operation(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    expected = {
        "/{version}/{waba_id}/subscribed_apps/": {"get", "post", "delete"},
        "/parley/v1/webhooks/apps": {"get", "post"},
        "/parley/v1/webhooks/apps/{app_id}": {"get", "patch", "delete"},
        "/parley/v1/webhooks/apps/{app_id}/verify": {"post"},
        "/parley/v1/webhooks/apps/{app_id}/secret": {"post"},
        "/parley/v1/webhooks/apps/{app_id}/test": {"post"},
        "/parley/v1/webhooks/deliveries": {"get"},
        "/parley/v1/webhooks/deliveries/{delivery_id}": {"get"},
        "/parley/v1/webhooks/deliveries/{delivery_id}/replay": {"post"},
        "/parley/v1/webhooks/deliveries/replay": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    edge = paths["/{version}/{waba_id}/subscribed_apps/"]
    body = edge["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert {"override_callback_uri", "verify_token", "app_id"} == set(request["properties"])
    listed = edge["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schema["components"]["schemas"][listed.rsplit("/", 1)[1]]["properties"]) == {"data"}
    # A secret is only ever in the answers that create one.
    created = paths["/parley/v1/webhooks/apps"]["post"]["responses"]["201"]
    read = paths["/parley/v1/webhooks/apps/{app_id}"]["get"]["responses"]["200"]
    ref = created["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "secret" in schema["components"]["schemas"][ref]["properties"]
    ref = read["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "secret" not in schema["components"]["schemas"][ref]["properties"]
