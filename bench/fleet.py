"""The handset fleet: memory per 1,000 online handsets and send → delivered latency at a fixed
rate, on the real stack (uvicorn, a Celery worker as `make run` starts it, `manage.py
handset_fleet`) started here against the configured database (DATABASE_URL; default: a fresh
SQLite file) and REDIS_URL. Prints figures; asserts nothing about time.

The send path is the spine's: `do_send_message` commits the message and its event, the
worker's endpoint encrypts waiting messages and hands them to the relay in batches, the
online handset acknowledges, the relay's receipt reaches the endpoint, and the message moves
to delivered. Latency is the message's own accepted → delivered stamps; the CPU each process
spent per message during the run shows where the time goes, and "the rest" what the machine
spent besides (PostgreSQL, Redis, the kernel).

Sends go out on schedule from a pool of 16 threads, and the rate they actually reached is
printed: a send that takes longer than the gap between two no longer lowers the load.

    .venv/bin/python bench/fleet.py               # 1,000 handsets, 100 msg/s for 10 s
    .venv/bin/python bench/fleet.py 300 --rate 50 --seconds 5
    .venv/bin/python bench/fleet.py --api         # the same through POST …/messages over HTTP
    .venv/bin/python bench/fleet.py --together    # sends due together accepted together

With `--api` each message is a Cloud API call (a developer's token, one keep-alive session)
and the latency runs from the call to the message's `delivered` stamp.

With `--together` one writer accepts every send whose slot came while it wrote the last ones
in one `do_send_messages` call, as the API's send lane writes the calls that arrive
together; the latency then runs from each message's slot (its wait for the writer included).

With BENCH_PYSPY=<a py-spy binary> the web server, the worker (its pool too), the fleet and
the load generator (this process, its children left out) are sampled while the messages go
(threads holding the GIL only), one collapsed-stacks file each in BENCH_PYSPY_DIR (default: a
new temporary folder).

Baselines in the same run: memory of one thread per handset holding the same websockets
(the sync client's `RelayHttp.websocket()`), and the business client's bare send (encrypt +
one PUT per message, no lifecycle, stream or worker)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bootstrap import (
    ROOT,
    charge_ended,
    cpu_by_command,
    cpu_by_process,
    cpu_seconds,
    cpu_spent,
    cpu_spent_by_command,
    free_port,
    kernel_seconds,
    machine_busy_seconds,
    percentile,
    rss_kb,
    setup_django,
    wait_port,
)

setup_django()

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402

from e2ee.actions import client_for, do_create_device  # noqa: E402
from e2ee.handsets.control import FleetControl  # noqa: E402
from e2ee.models import LocalDevice  # noqa: E402
from parley.accounts.actions.tokens import do_create_api_token  # noqa: E402
from parley.accounts.models import Business, PhoneNumber, StaffUser  # noqa: E402
from parley.core import clock  # noqa: E402
from parley.messaging.actions import (  # noqa: E402
    Outbound,
    do_enable_endpoint,
    do_send_message,
    do_send_messages,
)
from parley.messaging.content import Text  # noqa: E402
from parley.messaging.models import Message  # noqa: E402

PY = sys.executable
T = TypeVar("T")
# The servers' processes counted apart from "the rest" (when they run on this machine).
SERVICES = ("postgres", "redis-server")
BASELINE = """
import sys, threading, time
from websockets.sync.client import connect
from websockets.typing import Origin
import base64
url, creds = sys.argv[1], sys.stdin.read().split()
def rss():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])
before = rss(); socks = []
def hold(c):
    auth = 'Basic ' + base64.b64encode(c.encode()).decode()
    ws = connect(url.replace('http', 'ws') + '/ws/relay/', origin=Origin(url),
                 additional_headers={'Authorization': auth})
    socks.append(ws)
    try:
        while True: ws.recv()
    except Exception: pass
for c in creds: threading.Thread(target=hold, args=(c,), daemon=True).start()
deadline = time.monotonic() + 120
while len(socks) < len(creds) and time.monotonic() < deadline: time.sleep(0.1)
time.sleep(1); print(len(socks), rss() - before, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("handsets", type=int, nargs="?", default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--api", action="store_true", help="send through the Cloud API")
    parser.add_argument(
        "--together", action="store_true",
        help="one writer accepts the sends due meanwhile in one call (do_send_messages)",
    )  # fmt: skip
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    web_port, fleet_port = free_port(), free_port()
    relay = f"http://127.0.0.1:{web_port}"
    logs = Path(tempfile.mkdtemp())
    procs = [
        subprocess.Popen(
            [
                PY,
                "-m",
                "uvicorn",
                "parley.asgi:application",
                "--port",
                str(web_port),
                "--ws",
                "websockets-sansio",
                "--no-access-log",
            ],
            cwd=ROOT,
            env={**env, "PARLEY_DB_POOL": "1"},  # the web server as deployed
            stdout=(logs / "web.log").open("wb"),
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "parley",
                "worker",
                "--concurrency",
                os.environ.get("BENCH_WORKER_CONCURRENCY", "2"),
                "--loglevel",
                os.environ.get("BENCH_WORKER_LOG", "WARNING"),
            ],
            cwd=ROOT,
            env=env,
            stdout=(logs / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        ),
    ]
    fleet_url = f"http://127.0.0.1:{fleet_port}"
    try:
        wait_port(web_port)
        fleet = subprocess.Popen(
            [
                PY,
                str(ROOT / "manage.py"),
                "handset_fleet",
                "--relay",
                relay,
                "--bind",
                f"127.0.0.1:{fleet_port}",
            ],
            cwd=ROOT,
            env={**env, "PARLEY_FLEET_URL": fleet_url},
            stdout=(logs / "fleet.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        procs.append(fleet)
        pids = {"web": procs[0].pid, "worker": procs[1].pid, "fleet": fleet.pid}
        wait_port(fleet_port)
        control = FleetControl(fleet_url)
        run(args, relay, control, pids)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        print(f"logs: {logs}")


def run(args: argparse.Namespace, relay: str, control: FleetControl, pids: dict[str, int]) -> None:
    n = args.handsets
    fleet_pid = pids["fleet"]
    now = clock.now()
    business = Business.objects.create(
        name="Bench", slug=f"bench-{os.getpid()}", country="US", created_at=now
    )
    number = PhoneNumber.objects.create(
        business=business,
        e164=f"+1415555{os.getpid() % 10_000:04d}",  # a valid NANP exchange
        country="US",
        display_name="Bench",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        throughput_level=PhoneNumber.Throughput.HIGH,
        created_at=now,
    )
    admin = StaffUser.objects.create_user(
        f"bench{os.getpid()}@bench.test",
        "x" * 20,
        business=business,
        full_name="Bench",
        role="administrator",
        created_at=now,
    )
    biz = client_for(do_create_device(number.e164, business_number=True), relay)
    biz.register(kind="business", token=do_create_api_token(admin, name="bench").secret)
    do_enable_endpoint(number)

    numbers = [f"+9197{os.getpid() % 1000:03d}{i:05d}" for i in range(n)]
    started = time.monotonic()
    made = control.create_many(numbers, online=False)
    print(
        f"registered {len(made['handsets'])} handsets in {time.monotonic() - started:.1f} s "
        f"({len(made['errors'])} errors)"
    )
    time.sleep(1)
    before = rss_kb(fleet_pid)
    for x in numbers:
        control.call("PATCH", f"/v1/handsets/{x}", {"online": True, "wait": False})
    deadline = time.monotonic() + 300
    while control.health()["connected"] < n and time.monotonic() < deadline:
        time.sleep(0.5)
    connected = control.health()["connected"]
    time.sleep(1)
    grown = rss_kb(fleet_pid) - before
    print(
        f"fleet: {connected} online handsets, RSS +{grown / 1024:.1f} MB "
        f"= {grown / 1024 / max(connected, 1) * 1000:.1f} MB per 1,000 (target ≤ 50)"
    )

    # Customers write first (each fetches the business's keys once); the endpoint, running
    # in the worker, decrypts their messages into the business's tenant.
    for x in numbers:
        control.send_text(x, biz.e164, "hello")
    while (
        Message.objects.filter(conversation__number=number, direction="inbound").count() < n
        and time.monotonic() < deadline + 300
    ):
        time.sleep(0.5)

    # The spine's send path: do_send_message commits the message and its event, a worker
    # encrypts it and hands it to the relay, the online handset acknowledges, the relay's
    # receipt reaches the endpoint and moves the message to delivered. Latency is the
    # message's own accepted → delivered stamps (one shared clock, following real time).
    total = int(args.rate * args.seconds)
    sent: list[int] = []
    called: dict[Any, float] = {}  # wamid, then message id → when its API call started
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    developer = StaffUser.objects.create_user(
        f"dev{os.getpid()}@bench.test", "x" * 20, business=business, full_name="Dev",
        role="developer", created_at=now,
    )  # fmt: skip
    session.headers["Authorization"] = "Bearer " + do_create_api_token(developer, name="d").secret
    url = f"{relay}/v23.0/{number.pk}/messages"

    def send(i: int) -> int:
        if not args.api:
            return int(do_send_message(number, numbers[i % n], Text(f"bench message {i}")).pk)
        started = time.time()
        body = {"messaging_product": "whatsapp", "to": numbers[i % n], "type": "text",
                "text": {"body": f"bench message {i}"}}  # fmt: skip
        answer = session.post(url, json=body, timeout=30)
        answer.raise_for_status()
        called[answer.json()["messages"][0]["id"]] = started
        return -1  # looked up by wamid after the run (no query of the load generator's)

    profilers = _profile({**pids, "bench": os.getpid()})
    # One reading of every process, before and after: the figures below all come from it.
    every = cpu_by_process()
    own_before = time.process_time()
    busy_before, kernel_before = machine_busy_seconds(), kernel_seconds()
    start = time.monotonic()
    # Sends go out on schedule from a pool (an API call, or an in-process send's commit, can
    # take longer than the gap between two at 100 msg/s); each records when it returned, so
    # the rate actually offered is known.
    returned: list[float] = []

    def timed(i: int) -> int:
        pk = send(i)
        returned.append(time.monotonic())
        return pk

    # With --together, each message's latency runs from its slot (on the shared clock).
    slots: dict[int, dt.datetime] = {}
    if args.together:
        on_clock = clock.now() - dt.timedelta(seconds=time.monotonic() - start)
        for i, pk in enumerate(_send_together(number, numbers, start, args.rate, total, returned)):
            sent.append(pk)
            slots[pk] = on_clock + dt.timedelta(seconds=i / args.rate)
    else:
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = _on_schedule(start, args.rate, total, lambda i: pool.submit(timed, i))
            sent.extend(f.result() for f in futures)
    if args.api:
        by_wamid = dict(Message.objects.filter(wamid__in=list(called)).values_list("wamid", "pk"))
        sent = list(by_wamid.values())
        called = {by_wamid[wamid]: at for wamid, at in called.items()}
    busy_sending = machine_busy_seconds()
    late = max(returned) - (start + (total - 1) / args.rate)
    offered = total / max(max(returned) - start, 1e-9)
    wait_until = time.monotonic() + 60
    while time.monotonic() < wait_until:
        pending = Message.objects.filter(pk__in=sent, delivered_at__isnull=True).count()
        if not pending:
            break
        time.sleep(0.5)
    every_after = cpu_by_process()
    own_after = time.process_time()
    busy_after, kernel_after = machine_busy_seconds(), kernel_seconds()
    every = charge_ended(every, every_after)
    cpu = {
        name: cpu_seconds(pid, every_after) - cpu_seconds(pid, every) for name, pid in pids.items()
    }
    cpu["bench (the sender)"] = own_after - own_before
    # The database and Redis servers of this machine (when they run here), then the rest of
    # the machine in the same time: the kernel, other processes.
    for name in SERVICES:
        cpu[name] = cpu_spent(cpu_by_command((name,), every), cpu_by_command((name,), every_after))
    cpu["the rest"] = max(0.0, busy_after[0] - busy_before[0] - sum(cpu.values()))
    # Who the rest were: the other processes, the biggest first, then the busy time no
    # process holds (of it, the kernel's interrupts and the hypervisor's steal are named).
    others = cpu_spent_by_command(every, every_after, {*pids.values(), os.getpid()})
    others = {c: t for c, t in others.items() if c not in SERVICES and t > 0}
    busy = (busy_sending[0] - busy_before[0]) / max(busy_sending[1] - busy_before[1], 1e-9)
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(timeout=60)
    stamps = Message.objects.filter(pk__in=sent, delivered_at__isnull=False).values_list(
        "pk", "accepted_at", "sent_at", "delivered_at"
    )
    lat = [
        (
            d.timestamp() - called[pk]
            if args.api
            else (d - slots.get(pk, a)).total_seconds()  # from its slot with --together
        )
        * 1000
        for pk, a, _, d in stamps
        if a and d
    ]
    # Where the time goes: accepted → sent is the worker's send turn (with its wait for the
    # task), sent → delivered the relay, the handset and the receipt's way back; the relay's
    # own stamp of the phone's acknowledgement splits that in two.
    acked = _acked_at([pk for pk, *_ in stamps])
    legs = {
        "slot → accepted": [
            (a - slots[pk]).total_seconds() * 1000 for pk, a, *_ in stamps if a and pk in slots
        ],
        "accepted → sent": [(s - a).total_seconds() * 1000 for _, a, s, _ in stamps if a and s],
        "sent → delivered": [(d - s).total_seconds() * 1000 for _, _, s, d in stamps if s and d],
        "  sent → acknowledged at the relay": [
            (acked[pk] - s).total_seconds() * 1000 for pk, _, s, _ in stamps if s and pk in acked
        ],
        "  acknowledged → delivered": [
            (d - acked[pk]).total_seconds() * 1000 for pk, _, _, d in stamps if d and pk in acked
        ],
    }
    if lat:
        print(
            f"{'API call' if args.api else 'send'} → delivered at {args.rate:g} msg/s, {n} "
            f"online: {len(lat)}/{total} delivered, "
            f"p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 0.99):.1f} ms "
            f"(target p99 ≤ 100; {offered:.0f} msg/s offered, the last send returned "
            f"{late * 1000:.0f} ms after its slot)"
        )
    for leg, ms in legs.items():
        if ms:
            print(f"  {leg}: p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms")
    print(
        "  CPU per message: "
        + ", ".join(f"{name} {seconds / total * 1000:.1f} ms" for name, seconds in cpu.items())
        + f"; all {sum(cpu.values()) / total * 1000:.1f} ms ({os.cpu_count()} cores)"
    )
    top = sorted(others.items(), key=lambda item: -item[1])[:4]
    interrupts, stolen = (a - b for a, b in zip(kernel_after, kernel_before, strict=True))
    print(
        "  the rest: "
        + ", ".join(f"{command} {seconds / total * 1000:.1f} ms" for command, seconds in top)
        + f", no process {max(0.0, cpu['the rest'] - sum(others.values())) / total * 1000:.1f}"
        f" ms (the kernel's interrupts {interrupts / total * 1000:.1f} ms, taken by the"
        f" hypervisor {stolen / total * 1000:.1f} ms)"
    )
    print(f"  the machine's cores were {busy:.0%} busy while the messages were sent")

    # Baseline in the same run: the business client's bare send (encrypt + PUT to the relay
    # over HTTP), one at a time, without the lifecycle, the stream or the worker.
    put_ms: list[float] = []
    for i in range(min(total, 200)):
        t0 = time.monotonic()
        biz.send_text(numbers[i % n], f"bare message {i}")
        put_ms.append((time.monotonic() - t0) * 1000)
    print(
        f"baseline, the business client's bare send: p50 {statistics.median(put_ms):.1f} ms, "
        f"p99 {percentile(put_ms, 0.99):.1f} ms"
    )

    # Baseline memory: one thread per handset holding the same websockets.
    for x in numbers:
        control.call("PATCH", f"/v1/handsets/{x}", {"online": False})
    creds = [client_for(do_device(x)).state.get_credential()[1] for x in numbers]  # type: ignore[index]
    out = subprocess.run(
        [PY, "-c", BASELINE, relay],
        input=" ".join(creds),
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    try:
        count, kb = (int(v) for v in out.stdout.split())
        print(
            f"baseline, a thread per handset: {count} websockets, RSS +{kb / 1024:.1f} MB "
            f"= {kb / 1024 / max(count, 1) * 1000:.1f} MB per 1,000"
        )
    except ValueError:
        print(f"baseline failed: {out.stderr[-500:]}")
    print(json.dumps(control.health()))


def _profile(pids: dict[str, int]) -> list[subprocess.Popen[bytes]]:
    """With BENCH_PYSPY (a py-spy binary), sample the processes while the messages go: one
    collapsed-stacks file per process (GIL-holding threads only) in BENCH_PYSPY_DIR."""
    binary = os.environ.get("BENCH_PYSPY")
    if not binary:
        return []
    out = Path(os.environ.get("BENCH_PYSPY_DIR") or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    print(f"profiles: {out}", flush=True)
    command = [binary, "record", "--gil", "--nonblocking", "--rate", "200", "--format", "raw"]
    # The worker's pool runs in its children; this process's children are the others.
    own = {pid: [] if pid == os.getpid() else ["--subprocesses"] for pid in pids.values()}
    return [
        subprocess.Popen(
            [*command, *own[pid], "--pid", str(pid), "--output", str(out / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]


def _on_schedule(start: float, rate: float, total: int, act: Callable[[int], T]) -> list[T]:
    """`act(i)` for each of `total` slots, the i-th at `start + i / rate` (monotonic)."""
    done = []
    for i in range(total):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        done.append(act(i))
    return done


def _send_together(
    number: PhoneNumber,
    numbers: list[str],
    start: float,
    rate: float,
    total: int,
    returned: list[float],
) -> list[int]:
    """Send `total` messages at `rate` from `start`, through one writer that accepts every
    send whose slot came while it wrote the last ones in one `do_send_messages` call, as the
    API's send lane writes the calls that arrive together. Returns the messages' ids in slot
    order; `returned` gets when each call returned."""
    due: queue.SimpleQueue[int] = queue.SimpleQueue()
    ids: list[int] = []

    def write() -> None:
        while len(ids) < total:
            batch = [due.get()]
            while not due.empty():
                batch.append(due.get())
            sends = [Outbound(numbers[i % len(numbers)], Text(f"bench message {i}")) for i in batch]
            ids.extend(m.pk for m in do_send_messages(number, sends))
            returned.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    _on_schedule(start, rate, total, due.put)
    writer.join()
    return ids


def _acked_at(message_ids: list[int]) -> dict[int, Any]:
    """When the relay recorded each message's acknowledgement by the phone (its delivery
    record, found through the message's envelope)."""
    from parley.messaging.models import Envelope
    from parley.relay.models import DeliveryRecord

    by_guid = dict(
        Envelope.objects.filter(message_id__in=message_ids).values_list("guid", "message_id")
    )
    records = DeliveryRecord.objects.filter(guid__in=list(by_guid), delivered_at__isnull=False)
    return {by_guid[str(guid)]: at for guid, at in records.values_list("guid", "delivered_at")}


def do_device(number: str) -> LocalDevice:
    from e2ee.selectors import get_device

    return get_device(number)


if __name__ == "__main__":
    main()
