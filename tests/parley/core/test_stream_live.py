"""The stream with live processes: the staff websocket's resume and per-user addressing on a
real uvicorn, and a Celery worker killed with SIGKILL in the middle of a batch."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets
from django.conf import settings
from django.db import connection

from parley.accounts.actions.staff import do_change_roles
from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.models import StreamConsumer
from parley.core.publish import publish
from parley.core.stream import log as stream_log
from tests.conftest import ROOT, verified_session
from tests.parley.core import stream_probe

pytestmark = [pytest.mark.django_db(transaction=True)]


async def _open(base: str, session: str, after: int | None = None) -> Any:
    url = base.replace("http://", "ws://") + "/ws/events/"
    if after is not None:
        url += f"?after={after}"
    headers = {"Origin": base, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    return await websockets.connect(url, additional_headers=headers, open_timeout=10)


async def _recv(ws: Any, timeout: float = 15) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def _until(ws: Any, name: str, timeout: float = 15) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message = await _recv(ws, timeout)
            if message["event"] == name:
                return message

    return await asyncio.wait_for(wait(), timeout)


async def _silent(ws: Any, seconds: float) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


@pytest.mark.usefixtures("celery_worker")
def test_a_reconnecting_socket_gets_exactly_what_it_missed(asgi_server, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    first, second = factory.staff(business, "agent"), factory.staff(business, "agent")
    session = verified_session(admin)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        ws = await _open(asgi_server, session)
        await _until(ws, "stream.ready")
        await asyncio.to_thread(do_change_roles, admin, [first.pk], "supervisor")
        live = [await _until(ws, "audit.recorded"), await _until(ws, "staff.changed")]
        await ws.close()
        # Away: two more operations, four events.
        await asyncio.to_thread(do_change_roles, admin, [second.pk], "supervisor")
        await asyncio.to_thread(do_change_roles, admin, [first.pk], "agent")
        ws = await _open(asgi_server, session, after=live[-1]["stream_id"])
        missed = []
        while (message := await _recv(ws))["event"] != "stream.ready":
            missed.append(message)
        assert message["stream_id"] == missed[-1]["stream_id"]
        await _silent(ws, 1.5)  # the live copies of the replayed events are dropped
        await ws.close()
        return live, missed

    live, missed = asyncio.run(scenario())
    assert [m["event"] for m in missed] == [
        "audit.recorded", "staff.changed", "audit.recorded", "staff.changed",
    ]  # fmt: skip
    assert [m["data"]["user_ids"] for m in missed[1::2]] == [[second.pk], [first.pk]]
    ids = [m["stream_id"] for m in live + missed]
    assert ids == sorted(ids) and len(set(ids)) == 6


@pytest.mark.usefixtures("celery_worker")
def test_an_event_addressed_to_one_user_reaches_only_that_user(asgi_server, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    me, colleague = factory.staff(business, "agent"), factory.staff(business, "agent")
    sessions = [verified_session(u) for u in (me, colleague, admin)]
    event = StaffChanged(
        business_id=business.pk, occurred_at=clock.now(), user_ids=(me.pk,), change="for you"
    )

    async def scenario() -> dict[str, Any]:
        mine, theirs, admins = [await _open(asgi_server, s) for s in sessions]
        ready = [await _until(ws, "stream.ready") for ws in (mine, theirs, admins)]
        await asyncio.to_thread(publish, dataclasses.replace(event, user_id=me.pk))
        got = await _until(mine, "staff.changed")
        # Neither another agent nor the role the event names (administrators) hears it.
        await _silent(theirs, 1.0)
        await _silent(admins, 0.5)
        for ws in (mine, theirs, admins):
            await ws.close()
        # Replayed, too, only to its user.
        replays = []
        for s, r in zip(sessions, ready, strict=True):
            ws = await _open(asgi_server, s, after=r["stream_id"])
            replays.append([m["event"] async for m in _drain_until_ready(ws)])
            await ws.close()
        assert replays == [["staff.changed"], [], []]
        return got

    got = asyncio.run(scenario())
    assert got["data"]["change"] == "for you"


async def _drain_until_ready(ws: Any) -> Any:
    while (message := await _recv(ws))["event"] != "stream.ready":
        yield message


# --- SIGKILL in the middle of a batch ------------------------------------------------------


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from parley.celery import app

    name = f"probe-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "parley", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--hostname", name, "--queues", _probe_queue()],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 40
    while not app.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
    return process


def _probe_queue() -> str:
    # Its own queue: a worker of the session (which has no probe) must not take the runs.
    return f"{settings.NAMESPACE}-probe"


@pytest.fixture
def probe_table() -> Iterator[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {stream_probe.TABLE} (stream_id bigint NOT NULL)")
    yield stream_probe.TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {stream_probe.TABLE}")


def _probe_rows() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stream_id FROM {stream_probe.TABLE} ORDER BY stream_id")
        return [int(r[0]) for r in cursor.fetchall()]


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    live_env, probe_table, tmp_path
) -> None:
    from parley.core.tasks import run_stream

    env = {**live_env, "PARLEY_STREAM_CONSUMER_MODULES": "tests.parley.core.stream_probe_consumer"}
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(stream_probe.blocked_key())
    client.set(stream_probe.block_key(), 1)
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    try:
        ids = [publish(StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(n,),
                                    change="fault")) for n in range(30)]  # fmt: skip
        run_stream.apply_async(queue=_probe_queue())
        deadline = time.monotonic() + 30
        while not client.get(stream_probe.blocked_key()):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        # The probe is inside a batch: rows inserted, nothing committed.
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert _probe_rows() == []
        client.delete(stream_probe.block_key())
        worker = _start_worker(env, log)
        run_stream.apply_async(queue=_probe_queue())  # as the beat's sweep does
        deadline = time.monotonic() + 60
        while len(_probe_rows()) < len(ids) or not _all_caught_up(ids[-1]):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        assert _probe_rows() == ids  # every event once
    finally:
        worker.kill()
        worker.wait(timeout=10)
        client.delete(stream_probe.block_key(), stream_probe.blocked_key())
        client.close()


def _all_caught_up(last: int) -> bool:
    positions = dict(StreamConsumer.objects.values_list("name", "position"))
    wanted = {"probe", "console", "billing"}
    return wanted <= set(positions) and all(positions[n] >= last for n in wanted)


def test_the_safe_bound_stops_below_an_open_publishing_transaction(live_env) -> None:
    """A transaction that took a stream id but has not committed holds readers below it,
    even when a later id has committed (PostgreSQL; SQLite writes one at a time)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: ids always commit in order")
    early = publish(StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(), change="a"))
    script = (
        "import django, os, sys, time; django.setup()\n"
        "from django.db import transaction\n"
        "from parley.core import clock\n"
        "from parley.core.events import StaffChanged\n"
        "from parley.core.publish import publish\n"
        "with transaction.atomic():\n"
        "    print(publish(StaffChanged(business_id=1, occurred_at=clock.now(),"
        " user_ids=(), change='open')), flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env={**live_env, "DJANGO_SETTINGS_MODULE": "parley.settings"},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdin is not None
        open_id = int(holder.stdout.readline())
        later = publish(StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(),
                                     change="b"))  # fmt: skip
        assert early < open_id < later
        assert stream_log.safe_bound(early - 1) == open_id - 1
        holder.stdin.write(b"\n")
        holder.stdin.flush()
        assert holder.wait(timeout=20) == 0
        assert stream_log.safe_bound(early - 1) == later
    finally:
        holder.kill()
