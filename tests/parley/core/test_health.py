import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_healthz_is_200_when_everything_is_up(asgi_server: str) -> None:
    with urllib.request.urlopen(f"{asgi_server}/healthz", timeout=10) as response:
        status, body = response.status, json.loads(response.read())
    assert status == 200, body
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "redis", "celery"}
    assert all(check["ok"] for check in body["checks"].values())


def _healthcheck(live_env: dict[str, str], **overrides: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "healthcheck"],
        env={**live_env, **overrides},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_healthcheck_names_redis_when_it_is_down(live_env: dict[str, str]) -> None:
    code, body = _healthcheck(live_env, REDIS_URL="redis://127.0.0.1:1/0")
    assert code != 0
    assert "redis" in body["failing"]
    assert "database" not in body["failing"]


@pytest.mark.django_db(transaction=True)
def test_healthcheck_names_celery_when_no_worker_listens(live_env: dict[str, str]) -> None:
    # Same Redis server, another database index: Kombu scopes its broadcasts by index, so no
    # worker of this run can answer there.
    base = live_env["REDIS_URL"].rsplit("/", 1)[0]
    code, body = _healthcheck(live_env, REDIS_URL=f"{base}/14")
    assert code != 0
    assert body["failing"] == ["celery"]


@pytest.mark.django_db
def test_healthz_503_names_the_failing_part(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "redis" in body["failing"]
    assert body["checks"]["database"]["ok"] is True
