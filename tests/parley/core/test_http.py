"""Forwarded headers count only from trusted proxies; every response carries the security
headers; HTTPS deployments get Secure cookies and HSTS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import requests
import yaml
from django.test import Client, RequestFactory

from parley.core.http import CONTENT_SECURITY_POLICY, client_address, resolve_client
from tests.conftest import PASSWORD, ROOT, totp_now


@pytest.fixture
def trusting(settings: Any) -> Any:
    """Trust a proxy network for one test."""

    def trust(*networks: str) -> None:
        settings.PARLEY = {**settings.PARLEY, "TRUSTED_PROXIES": list(networks)}
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    return trust


class TestClientAddress:
    def test_forwarded_for_is_ignored_by_default(self) -> None:
        request = RequestFactory().get(
            "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7"
        )
        assert client_address(request) == "127.0.0.1"

    def test_a_trusted_proxy_names_the_client(self, trusting: Any) -> None:
        trusting("10.0.0.0/8", "127.0.0.1")
        # The client may send its own X-Forwarded-For; only what the proxies appended counts.
        assert resolve_client("10.0.0.2", "6.6.6.6, 203.0.113.9, 10.0.0.1") == "203.0.113.9"
        assert resolve_client("127.0.0.1", "2001:db8::1") == "2001:db8::1"
        assert resolve_client("127.0.0.1", "") == "127.0.0.1"
        assert resolve_client("127.0.0.1", "garbage, not-an-ip") == "127.0.0.1"
        # Anyone else's header is nobody's business.
        assert resolve_client("198.51.100.1", "203.0.113.9") == "198.51.100.1"

    def test_the_middleware_resolves_once_for_every_view(self, trusting: Any, db: Any) -> None:
        trusting("127.0.0.1")
        Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").post(
            "/login/", {"email": "nobody@example.com", "password": "x"}
        )
        Client(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.66").post(
            "/login/", {"email": "nobody@example.com", "password": "x"}
        )
        from parley.accounts.models import AuditEntry

        addresses = list(
            AuditEntry.objects.filter(action="login.failed")
            .order_by("seq")
            .values_list("ip_address", flat=True)
        )
        assert addresses == ["203.0.113.9", "198.51.100.1"]


@pytest.mark.django_db(transaction=True)
def test_a_varying_forwarded_for_does_not_escape_the_login_throttle(
    asgi_server: str, settings: Any
) -> None:
    """Through the real server: each attempt claims another client address, and all of them
    still count against the one connection's address."""
    limit = settings.PARLEY["LOGIN_RATE_PER_MINUTE"]
    web = requests.Session()
    web.get(f"{asgi_server}/login/", timeout=10)
    token = web.cookies["csrftoken"]
    statuses = []
    # A fixed one-minute window: crossing one boundary at most doubles the allowance.
    for i in range(2 * limit + 2):
        response = web.post(
            f"{asgi_server}/login/",
            data={"email": f"nobody{i}@example.com", "password": "x", "csrfmiddlewaretoken": token},
            headers={"X-Forwarded-For": f"198.51.100.{i % 250}", "Referer": asgi_server},
            allow_redirects=False,
            timeout=10,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {200}


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        "path", ["/login/", "/healthz", "/v23.0/1/phone_numbers", "/no-such-page", "/favicon.ico"]
    )
    def test_every_response_carries_the_policies(self, client: Any, path: str, db: Any) -> None:
        response = client.get(path)
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "camera=()" in response["Permissions-Policy"]
        policy = dict(d.partition(" ")[::2] for d in CONTENT_SECURITY_POLICY.split("; "))
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["frame-ancestors"] == "'none'"

    def test_static_files_too(self, client: Any) -> None:
        response = client.get("/static/frontend/console.css")
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def _settings_under(env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps({k: getattr(settings, k, None) for k in ("
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
        "'SECURE_PROXY_SSL_HEADER')} | {'proxies': settings.PARLEY['TRUSTED_PROXIES']}))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "parley.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode:
        return {"error": result.stderr}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


class TestHttpsDeployment:
    def test_off_by_default_for_a_local_run(self) -> None:
        assert _settings_under({}) == {
            "SESSION_COOKIE_SECURE": False,
            "CSRF_COOKIE_SECURE": False,
            "SECURE_HSTS_SECONDS": 0,
            "SECURE_PROXY_SSL_HEADER": None,
            "proxies": [],
        }

    def test_one_setting_turns_it_on(self) -> None:
        values = _settings_under(
            {"PARLEY_HTTPS": "1", "PARLEY_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12"}
        )
        assert values == {
            "SESSION_COOKIE_SECURE": True,
            "CSRF_COOKIE_SECURE": True,
            "SECURE_HSTS_SECONDS": 31536000,
            "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
            "proxies": ["10.0.0.1", "172.16.0.0/12"],
        }

    def test_a_bad_proxy_address_stops_startup_with_a_clear_message(self) -> None:
        values = _settings_under({"PARLEY_TRUSTED_PROXIES": "10.0.0.1, proxy.local"})
        assert "PARLEY_TRUSTED_PROXIES: 'proxy.local' is not an IP address" in values["error"]

    def test_cookies_are_secure_and_hsts_is_sent_behind_a_trusted_tls_proxy(
        self, settings: Any, trusting: Any, factory: Any, db: Any
    ) -> None:
        settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
        settings.SECURE_HSTS_SECONDS = 31536000
        trusting("127.0.0.1")
        user = factory.staff(factory.business(), "agent")
        proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
        page = proxied.get("/login/")
        assert page["Strict-Transport-Security"] == "max-age=31536000"
        assert page.cookies["csrftoken"]["secure"] is True
        proxied.post("/login/", {"email": user.email, "password": PASSWORD})
        done = proxied.post("/login/verify/", {"code": totp_now(user)})
        assert done.status_code == 302
        for name in (settings.SESSION_COOKIE_NAME, settings.PARLEY["TRUSTED_DEVICE_COOKIE"]):
            assert done.cookies[name]["secure"] is True, name
        # A client that merely claims HTTPS is not believed.
        direct = Client(REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_PROTO="https").get("/login/")
        assert "Strict-Transport-Security" not in direct


def _uvicorn_commands() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd is not None
    launcher = (ROOT / "platform/parley/launcher.py").read_text()
    run = re.search(r'"web",\s*(f?".*?"),\s*env=', launcher, re.S)
    assert run is not None
    fixture = (ROOT / "tests/conftest.py").read_text()
    served = re.search(r'"-m", "uvicorn".*?\]', fixture, re.S)
    assert served is not None
    return {
        "compose": " ".join(compose["services"]["web"]["command"]),
        "Dockerfile": " ".join(json.loads(cmd.group(1))),
        "launcher": run.group(1),
        "test fixture": served.group(0),
    }


def test_every_server_command_leaves_forwarded_headers_to_parley() -> None:
    for where, command in _uvicorn_commands().items():
        assert "uvicorn" in command, where
        assert "--no-proxy-headers" in command, where
        assert "forwarded-allow-ips" not in command, where


def test_docker_compose_serves_https_deployments() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["x-parley"]["environment"]
    assert environment["PARLEY_HTTPS"] == "${PARLEY_HTTPS:-1}"
    assert "PARLEY_TRUSTED_PROXIES" in environment
