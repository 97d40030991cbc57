"""The fault test: the receiver is down for its first attempts, and the delivery worker
(its own process) is killed with SIGKILL while POSTs are in flight. Every change still
arrives, none is lost, and a change that arrives twice carries the same webhook-id."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from parley.webhooks import signing
from parley.webhooks.models import WebhookDelivery
from tests.parley.webhooks.conftest import consume, eventually
from tests.parley.windows import customer_wrote

ROOT = Path(__file__).resolve().parents[3]
MESSAGES = 24
FAILING = 3  # the receiver's first answers are 500s
HANGING = 6  # then this many POSTs hang until the worker has been killed


class FlakyReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.received: list[tuple[str, str, bytes]] = []  # webhook-id, signature, body
        self.hanging = 0
        self.release = threading.Event()

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        with self.lock:
            self.count += 1
            n = self.count
        if n <= FAILING:
            return Response("down", status=500)
        if n <= FAILING + HANGING:
            with self.lock:
                self.hanging += 1
            self.release.wait(30)  # the worker dies meanwhile: this answer reaches no one
        with self.lock:
            self.received.append(
                (request.headers["webhook-id"], request.headers["X-Hub-Signature-256"], body)
            )
        return Response("ok")


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "webhook_worker"], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_outage_and_sigkill_lose_nothing_and_repeat_only_with_the_same_id(
    subscribed: Any, live_env: dict[str, str], tmp_path: Path
) -> None:
    receiver = FlakyReceiver()
    server = HTTPServer(threaded=True)
    server.expect_request("/flaky", method="POST").respond_with_handler(receiver.handle)
    server.start()
    try:
        s = subscribed("/flaky", server=server)
        wamids = {customer_wrote(s.number, "+919820055555", f"m{n}").wamid
                  for n in range(MESSAGES)}  # fmt: skip
        consume()
        env = {**live_env, "PARLEY_WEBHOOK_LEASE_SECONDS": "2",
               # Retries come due quickly on the (unmoved, real-time) shared clock.
               "PARLEY_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
               "PARLEY_WEBHOOK_BREAKER_THRESHOLD": "1000"}  # fmt: skip
        log = tmp_path / "webhooks.log"
        first = _start_worker(env, log)
        try:
            eventually(lambda: receiver.hanging >= HANGING, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        receiver.release.set()
        second = _start_worker(env, log)
        try:
            eventually(lambda: WebhookDelivery.objects.filter(
                state=WebhookDelivery.DELIVERED).count() == MESSAGES, timeout=90)  # fmt: skip
        finally:
            second.terminate()
            second.wait(20)
    finally:
        server.clear()
        server.stop()

    deliveries = {d.webhook_id: d for d in WebhookDelivery.objects.all()}
    assert len(deliveries) == MESSAGES
    bodies: defaultdict[str, set[bytes]] = defaultdict(set)
    arrived: set[str] = set()
    for webhook_id, signature, body in receiver.received:
        assert signature == signing.hub_signature(s.secret, body)
        bodies[webhook_id].add(body)
        value = json.loads(body)["entry"][0]["changes"][0]["value"]
        arrived.add(value["messages"][0]["id"])
    # Nothing lost: every message arrived; nothing foreign arrived.
    assert arrived == wamids
    assert set(bodies) == set(deliveries)
    # Repeats (the killed worker's in-flight POSTs, sent again) carry the same id and body.
    assert all(len(b) == 1 for b in bodies.values())
    assert len(receiver.received) >= MESSAGES
    repeats = len(receiver.received) - MESSAGES
    assert repeats >= 1, "the killed worker's in-flight deliveries were sent again"
