"""Webhook delivery figures, on the configured database (DATABASE_URL; PostgreSQL as deployed)
and Redis (REDIS_URL). Prints figures, never asserts.

A local aiohttp receiver (its own process) checks every X-Hub-Signature-256 and notes when
each delivery arrived. Measured in one run:

- ceiling: a bare aiohttp POST loop (one process, 50 at once) sending the same signed
  bodies to the same receiver: deliveries/s and p50/p99 request latency;
- Parley, throughput: N `message.received` events published at once; they go through the
  stream's `webhooks` consumer (on a Celery worker, as deployed) and the delivery worker
  (`manage.py webhook_worker`) to the receiver: deliveries/s from the first publish to the
  last arrival, with CPU seconds per delivery of each process and the worker's peak memory;
- Parley, latency: events published at a steady rate (default 500/s, a few per
  transaction): p50/p99 from each event's commit to its arrival at the receiver.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/webhooks.py
    .venv/bin/python bench/webhooks.py --events 10000 --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parley.core.events import Event

from bootstrap import ROOT, cpu_seconds, free_port, peak_rss_kb, percentile, setup_django, wait_port

SECRET_ENV = "BENCH_WEBHOOK_SECRET"
VERIFY_TOKEN = "bench-verify"


def receiver(port: int) -> None:
    """The receiver process: verify each POST's signature, note its webhook-id and time."""
    from aiohttp import web

    secret = os.environ[SECRET_ENV].encode()
    arrived: list[tuple[str, float]] = []
    bad = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal bad
        if request.method == "GET":
            if request.query.get("hub.verify_token") != VERIFY_TOKEN:
                return web.Response(status=403)
            return web.Response(text=request.query.get("hub.challenge", ""))
        body = await request.read()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            bad += 1
            return web.Response(status=401)
        arrived.append((request.headers.get("webhook-id", ""), time.time()))
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"count": len(arrived), "bad": bad, "arrived": arrived[since:]})

    app = web.Application()
    app.router.add_route("*", "/hook", hook)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000, help="events for the throughput")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s for the latency")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver(args.receiver)
        return
    setup_django()
    run(args)


def run(args: argparse.Namespace) -> None:
    import requests
    from django.core.management import call_command
    from django.db import transaction

    from parley.accounts.models import PhoneNumber
    from parley.core import clock
    from parley.core.events import Event, MessageReceived
    from parley.core.models import StreamEntry
    from parley.core.publish import publish
    from parley.core.stream.runner import run_consumers
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.content import Text
    from parley.webhooks.actions.apps import do_create_app, do_subscribe_app
    from parley.webhooks.changes import build_changes
    from parley.webhooks.models import WebhookDelivery

    call_command("migrate", verbosity=0)
    from parley.accounts.models import Business

    business = Business.objects.create(name="Bench", slug=f"bench-{os.getpid()}", country="US",
                                       created_at=clock.now())  # fmt: skip
    number = PhoneNumber.objects.create(
        business=business, e164=f"+1415777{os.getpid() % 10000:04d}", country="US",
        display_name="Bench", code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    # The messages the events are about (their own events reach no app: none is subscribed).
    for n in range(200):
        do_record_inbound_message(number, f"+9198200{n:05d}", Text(f"order {n} status please"),
                                  envelope_guid=f"00000000-0000-4000-8000-{n:012d}")  # fmt: skip
    run_consumers(max_seconds=120, names=["webhooks"])
    originals = [
        Event.from_payload(e.name, e.business_id, e.payload)
        for e in StreamEntry.objects.filter(name=MessageReceived.name, business_id=business.pk)
    ]

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    app_port = free_port()
    logs = Path(tempfile.mkdtemp())
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, command: list[str], extra: dict[str, str] | None = None) -> None:
        procs[name] = subprocess.Popen(command, cwd=ROOT, env={**env, **(extra or {})},
                                       stdout=(logs / f"{name}.log").open("wb"),
                                       stderr=subprocess.STDOUT)  # fmt: skip

    app, secret = do_create_app(business, name="Bench receiver",
                                callback_url=f"http://127.0.0.1:{app_port}/hook",
                                verify_token=VERIFY_TOKEN, fields=["messages"],
                                max_concurrency=100)  # fmt: skip
    start("receiver", [sys.executable, __file__, "--receiver", str(app_port)], {SECRET_ENV: secret})
    try:
        wait_port(app_port)
        do_subscribe_app(app)
        stats_url = f"http://127.0.0.1:{app_port}/stats"

        sample = build_changes_sample(build_changes, originals[0])
        ceiling(f"http://127.0.0.1:{app_port}/hook", sample, secret, args.events)
        received = requests.get(stats_url, timeout=10).json()["count"]

        start("worker", [sys.executable, "-m", "celery", "-A", "parley", "worker", "--pool",
                         "solo", "--loglevel", "WARNING"])  # fmt: skip
        start("webhooks", [sys.executable, str(ROOT / "manage.py"), "webhook_worker"])
        time.sleep(3)  # let both start before the clock starts
        cpu0 = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        committed: dict[int, float] = {}
        t0 = time.time()
        for chunk in range(0, args.events, 500):
            with transaction.atomic():
                ids = [publish(copy(originals[i % len(originals)]))
                       for i in range(chunk, min(args.events, chunk + 500))]  # fmt: skip
            now = time.time()
            committed.update((i, now) for i in ids)
        arrivals = wait_for(stats_url, received, args.events)
        received += len(arrivals)
        cpu = {name: cpu_seconds(p.pid) - cpu0[name] for name, p in procs.items()}
        elapsed = max(t for _, t in arrivals) - t0
        print(f"parley throughput: {args.events} events -> {len(arrivals)} signed deliveries in "
              f"{elapsed:.2f} s: {len(arrivals) / elapsed:,.0f} deliveries/s")  # fmt: skip
        per = ", ".join(f"{name} {1000 * seconds / args.events:.2f}"
                        for name, seconds in cpu.items())  # fmt: skip
        print(f"  CPU ms per delivery: {per}")

        n = int(args.rate * args.seconds)
        per_tick = max(1, round(args.rate / 100))
        committed = {}
        start_at = time.monotonic()
        sent = 0
        while sent < n:
            with transaction.atomic():
                ids = [publish(copy(originals[(sent + i) % len(originals)]))
                       for i in range(min(per_tick, n - sent))]  # fmt: skip
            now = time.time()
            committed.update((i, now) for i in ids)
            sent += len(ids)
            pause = start_at + sent / args.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        arrivals = wait_for(stats_url, received, n)
        latencies = [
            (t - committed[int(wid.split("_")[1])]) * 1000
            for wid, t in arrivals if int(wid.split("_")[1]) in committed
        ]  # fmt: skip
        print(f"parley latency at {args.rate:,.0f} events/s for {args.seconds:g} s: "
              f"commit -> received p50 {percentile(latencies, 0.5):.1f} ms, "
              f"p99 {percentile(latencies, 0.99):.1f} ms ({len(latencies)} received)")  # fmt: skip
        print(f"  delivery worker peak memory: {peak_rss_kb(procs['webhooks'].pid) / 1024:.1f} MB")
        bad = requests.get(stats_url, timeout=10).json()["bad"]
        dead = WebhookDelivery.objects.filter(state=WebhookDelivery.DEAD).count()
        print(f"  signature failures at the receiver: {bad}; dead letters: {dead}")
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(timeout=20)
        print(f"logs: {logs}")


def copy(event: Event) -> Event:
    import dataclasses

    from parley.core import clock

    return dataclasses.replace(event, occurred_at=clock.now())


def build_changes_sample(build: Any, event: Event) -> bytes:
    """One real change body, as the consumer builds it, for the ceiling's POSTs."""
    from parley.core.stream.consumers import Delivery

    (change,) = build([Delivery(1, "bench", event)])
    return str(change.body).encode()


def ceiling(url: str, body: bytes, secret: str, n: int) -> None:
    """A bare aiohttp loop: one process, 50 POSTs at once, each signed as Parley signs."""
    import aiohttp

    from parley.webhooks import signing

    async def go() -> tuple[float, list[float]]:
        latencies: list[float] = []
        queue = iter(range(n))

        async def client(session: aiohttp.ClientSession) -> None:
            for i in queue:
                headers = signing.headers_for(body, f"msg_ceiling_{i}", int(time.time()), [secret])
                began = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append((time.perf_counter() - began) * 1000)

        async with aiohttp.ClientSession() as session:
            began = time.perf_counter()
            await asyncio.gather(*(client(session) for _ in range(50)))
            return time.perf_counter() - began, latencies

    elapsed, latencies = asyncio.run(go())
    print(f"ceiling (bare aiohttp POST loop, 50 at once): {n / elapsed:,.0f} deliveries/s, "
          f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms "
          f"({len(body)} byte bodies)")  # fmt: skip


def wait_for(stats_url: str, since: int, n: int, timeout: float = 300) -> list[tuple[str, float]]:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = requests.get(stats_url, params={"since": since}, timeout=10).json()
        if data["count"] - since >= n:
            return [(wid, t) for wid, t in data["arrived"]]
        time.sleep(0.05)
    raise SystemExit(f"only {data['count'] - since} of {n} deliveries arrived")


if __name__ == "__main__":
    main()
