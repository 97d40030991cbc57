"""The handset fleet as a real process (`manage.py handset_fleet`) beside the real ASGI server
and Celery worker, driven through its control API."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2ee.handsets.control import FleetControl
from tests.conftest import ROOT, _free_port, _stop, _wait_for_port


@contextlib.contextmanager
def _run_fleet(
    relay: str, live_env: dict[str, str], tmp_path: Path, *, fault_numbers: bool
) -> Iterator[FleetControl]:
    port = _free_port()
    log = tmp_path / "fleet.log"
    url = f"http://127.0.0.1:{port}"
    extra = [] if fault_numbers else ["--no-fault-numbers"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "handset_fleet", "--relay", relay,
             "--bind", f"127.0.0.1:{port}", *extra],
            cwd=ROOT, env={**live_env, "PARLEY_FLEET_URL": url}, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_port(port, process, log)
        control = FleetControl(url)
        control.log = log  # type: ignore[attr-defined]
        yield control
    finally:
        _stop(process)


@pytest.fixture
def handset_fleet(
    asgi_server: str, celery_worker: None, live_env: dict[str, str], tmp_path: Path
) -> Iterator[FleetControl]:
    """The fleet without the fault numbers (they would cost every test five registrations)."""
    with _run_fleet(asgi_server, live_env, tmp_path, fault_numbers=False) as control:
        yield control


@pytest.fixture
def fault_fleet(
    asgi_server: str, celery_worker: None, live_env: dict[str, str], tmp_path: Path
) -> Iterator[FleetControl]:
    """The fleet as `make run` starts it: it creates the fault numbers; yields once they
    are registered and running."""
    with _run_fleet(asgi_server, live_env, tmp_path, fault_numbers=True) as control:
        wait_for(lambda: control.health()["fault_numbers"], timeout=60, what="fault numbers")
        yield control


def wait_for(check: Callable[[], Any], *, timeout: float = 20, what: str = "") -> Any:
    """Poll for an asynchronous outcome until a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
