"""The shared clock across live processes: a real Celery worker and a real ASGI server see
a move made by the command or the API, and the jobs that became due run on the worker."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.core.cache import cache

from parley.accounts.actions.tokens import do_create_api_token
from parley.core import clock
from parley.core.tasks import report_clock
from parley.relay.models import DeliveryRecord, Envelope
from tests.conftest import ROOT
from tests.parley.relay.conftest import handset  # noqa: F401  (the relay's own fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met before the deadline")


def _worker_now() -> dt.datetime:
    key = f"clock-test:{uuid.uuid4()}"
    report_clock.delay(key)
    reported = wait_for(lambda: cache.get(key), timeout=20)
    return dt.datetime.fromisoformat(reported)


def _manage(live_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=live_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_command_moves_the_clock_of_the_worker_and_the_web_server(
    celery_worker: None, asgi_server: str, live_env: dict[str, str], factory: Any,
    shared_clock: None,
) -> None:  # fmt: skip
    admin = factory.staff(factory.business(), "administrator")
    token = do_create_api_token(admin, name="ops", scopes=["manage_clock"]).secret
    headers = {"Authorization": f"Bearer {token}"}

    def web_offset() -> dt.timedelta:
        body = requests.get(f"{asgi_server}/parley/v1/clock", headers=headers).json()
        return dt.datetime.fromisoformat(body["server_time"]) - dt.datetime.fromisoformat(
            body["real_time"]
        )

    assert abs(web_offset()) < dt.timedelta(minutes=1)
    done = _manage(live_env, "clock", "advance", "25h")
    assert done.returncode == 0, done.stderr
    assert "Due jobs queued for a worker." in done.stdout
    wait_for(lambda: web_offset() > dt.timedelta(hours=24, minutes=59))
    wait_for(lambda: _worker_now() - clock.real_now() > dt.timedelta(hours=24, minutes=59))
    # The pytest process keeps its own clock.
    assert clock.now() - clock.real_now() < dt.timedelta(minutes=1)

    # Reset is the one way back, and the live processes follow it too.
    assert _manage(live_env, "clock", "reset").returncode == 0
    wait_for(lambda: abs(web_offset()) < dt.timedelta(minutes=1))
    wait_for(lambda: abs(_worker_now() - clock.real_now()) < dt.timedelta(minutes=1))


def test_command_errors_are_one_line_with_a_non_zero_exit(
    live_env: dict[str, str], shared_clock: None
) -> None:
    bad = _manage(live_env, "clock", "advance", "soon")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip()
        .splitlines()[-1]
        .endswith("'soon' is not a duration such as 90s, 45m, 25h, 31d or 1d2h")
    )
    assert _manage(live_env, "clock", "advance", "2d", "--inline").returncode == 0
    back = _manage(live_env, "clock", "set", "2020-01-01T00:00Z")
    assert back.returncode == 1 and "Traceback" not in back.stderr
    (line,) = back.stderr.strip().splitlines()
    assert line.startswith("CommandError: The clock only moves forward")


def test_advancing_31_days_expires_a_queued_envelope_and_purges_relay_metadata(
    celery_worker: None, asgi_server: str, factory: Any, handset: Any, shared_clock: None,  # noqa: F811
) -> None:  # fmt: skip
    alice, bob = handset(), handset()  # bob stays offline: he never fetches
    guid = alice.send(bob, b"\7" * 32).json()["messages"][0]["guid"]
    assert Envelope.objects.filter(guid=guid).exists()
    assert DeliveryRecord.objects.filter(guid=guid).exists()

    developer = factory.staff(factory.business(), "developer")
    token = do_create_api_token(developer, name="ops", scopes=["manage_clock"]).secret
    response = requests.post(
        f"{asgi_server}/parley/v1/clock/advance",
        json={"duration": "31d"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["catch_up"] == "queue"
    # No beat runs here: the move itself makes the worker expire and purge.
    wait_for(lambda: not Envelope.objects.filter(guid=guid).exists())
    wait_for(lambda: not DeliveryRecord.objects.filter(guid=guid).exists())
    # The sender was told (an expiry receipt queued for alice's device).
    assert Envelope.objects.filter(recipient__account__e164=alice.number).exists()
