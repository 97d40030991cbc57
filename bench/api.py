"""The Cloud API's send, measured over HTTP: sustained accepted messages/s for one number and
the p50/p99 of the accept (a 200 with the wamid), from a load generator on the same machine
(aiohttp, a fixed number of requests in flight). Baseline in the same run: a bare Django +
DRF endpoint that parses the POST and inserts one row (bench/bare_app.py), on the same
server and database: the naive ceiling. Prints figures; asserts nothing about time.

Parley's side runs as `make run` serves it (uvicorn, one process, the send lane in front of
Django: parley.api.send_lane); the number is at HIGH throughput (1,000 messages/s) and the
messages go to enough customers that the pair rate never refuses one. Every message is
committed with its `accepted` event; no worker runs, so the figure is the API's own. The CPU
the web server and the load generator spent per accepted message is printed too: unlike the
rate, it hardly moves with what else the machine is doing.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/api.py
    .venv/bin/python bench/api.py --seconds 10 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bootstrap import ROOT, cpu_seconds, free_port, percentile, setup_django, wait_port

setup_django()

import aiohttp  # noqa: E402
from django.core.management import call_command  # noqa: E402

from parley.accounts.actions.tokens import do_create_api_token  # noqa: E402
from parley.accounts.models import Business, PhoneNumber, StaffUser  # noqa: E402
from parley.core import clock  # noqa: E402
from parley.messaging.models import Message  # noqa: E402

PY = sys.executable


def serve(app: str, port: int, env: dict[str, str], log: Path, app_dir: Path) -> Any:
    return subprocess.Popen(
        [PY, "-m", "uvicorn", app, "--port", str(port), "--no-access-log",
         "--no-proxy-headers", "--app-dir", str(app_dir), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def load(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str], seconds: float, inflight: int
) -> tuple[int, int, list[float]]:
    """Keep `inflight` requests going for `seconds`; returns (accepted, refused, latencies)."""
    latencies: list[float] = []
    counts = {"ok": 0, "refused": 0}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=inflight)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker(offset: int) -> None:
            i = offset
            while time.monotonic() < deadline:
                body = bodies[i % len(bodies)]
                i += inflight
                started = time.monotonic()
                async with session.post(url, json=body) as response:
                    await response.read()
                    if response.status == 200:
                        counts["ok"] += 1
                        latencies.append((time.monotonic() - started) * 1000)
                    else:
                        counts["refused"] += 1

        await asyncio.gather(*(worker(n) for n in range(inflight)))
    return counts["ok"], counts["refused"], latencies


def report(name: str, ok: int, refused: int, latencies: list[float], seconds: float) -> float:
    rate = ok / seconds
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = percentile(latencies, 0.99) if latencies else float("nan")
    print(f"{name}: {rate:,.0f} accepted/s ({ok} in {seconds:g} s, {refused} refused), "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = Path(tempfile.mkdtemp())

    now = clock.now()
    tag = uuid.uuid4().hex[:8]
    business = Business.objects.create(name="Bench", slug=f"bench-{tag}", country="US",
                                       created_at=now)  # fmt: skip
    number = PhoneNumber.objects.create(
        business=business, e164=f"+1415555{os.getpid() % 10_000:04d}", country="US",
        display_name="Bench", code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, throughput_level=PhoneNumber.Throughput.HIGH,
        created_at=now,
    )  # fmt: skip
    developer = StaffUser.objects.create_user(f"dev-{tag}@bench.test", "x" * 20,
                                              business=business, full_name="Bench",
                                              role="developer", created_at=now)  # fmt: skip
    token = do_create_api_token(developer, name="bench").secret
    customers = [f"+9197{os.getpid() % 1000:03d}{i:05d}" for i in range(args.customers)]
    bodies = [
        {"messaging_product": "whatsapp", "to": c, "type": "text",
         "text": {"body": f"bench message {i}"}}
        for i, c in enumerate(customers)
    ]  # fmt: skip

    bare_port, parley_port = free_port(), free_port()
    procs = [
        serve("bare_app:application", bare_port, env, logs / "bare.log", ROOT / "bench"),
        # The web server as deployed: pooled database connections.
        serve(
            "parley.asgi:application",
            parley_port,
            {**env, "PARLEY_DB_POOL": "1"},
            logs / "web.log",
            ROOT / "platform",
        ),
    ]
    try:
        wait_port(bare_port)
        wait_port(parley_port)
        for _ in range(2):  # warm both (connections, imports), then measure
            asyncio.run(load(f"http://127.0.0.1:{bare_port}/insert", bodies, {}, 1, 4))
        ok, refused, lat = asyncio.run(load(f"http://127.0.0.1:{bare_port}/insert", bodies, {},
                                            args.seconds, args.concurrency))  # fmt: skip
        ceiling = report("baseline, bare Django+DRF POST-and-insert", ok, refused, lat,
                         args.seconds)  # fmt: skip
        url = f"http://127.0.0.1:{parley_port}/v23.0/{number.pk}/messages"
        headers = {"Authorization": f"Bearer {token}"}
        asyncio.run(load(url, bodies[-200:], headers, 1, 4))
        before = Message.objects.filter(conversation__number=number).count()
        web_cpu, own_cpu = cpu_seconds(procs[1].pid), time.process_time()
        ok, refused, lat = asyncio.run(load(url, bodies[:-200], headers, args.seconds,
                                            args.concurrency))  # fmt: skip
        web_cpu, own_cpu = cpu_seconds(procs[1].pid) - web_cpu, time.process_time() - own_cpu
        rate = report("Parley, POST /{version}/{phone_number_id}/messages", ok, refused, lat,
                      args.seconds)  # fmt: skip
        stored = Message.objects.filter(conversation__number=number).count() - before
        print(f"  {stored} messages stored (accepted: {ok}); {rate / ceiling:.2f} of the "
              f"ceiling; target ≥ 1,000 accepted/s per number ({os.cpu_count()} cores, "
              f"load generator included)")  # fmt: skip
        print(f"  CPU per accepted message: web server {1000 * web_cpu / max(ok, 1):.2f} ms, "
              f"load generator {1000 * own_cpu / max(ok, 1):.2f} ms")  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        print(f"logs: {logs}")


if __name__ == "__main__":
    main()
