"""The messaging spine's figures, on the configured database (DATABASE_URL; default: a fresh
SQLite file in a temporary folder) and Redis (REDIS_URL). Prints figures, never asserts.

The event stream: events/s published into the log (the outbox row in the caller's
transaction), then through the log to a no-op consumer and to billing's consumer, with p50/p99
batch latency and peak memory; baselines in the same run: the in-process dispatch the stream
replaced (billing recording one delivery per transaction), one Celery task enqueued per
transaction versus the Redis wake mark, and moving the same events through a Redis Streams
consumer group (XADD, XREADGROUP, XACK) instead of reading the log table.

    .venv/bin/python bench/spine.py              # 20,000 events
    .venv/bin/python bench/spine.py 50000
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bootstrap import setup_django

setup_django()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from billing.listeners import fact_from_event  # noqa: E402
from billing.models import MessageFactRecord  # noqa: E402
from parley.accounts.models import Business  # noqa: E402
from parley.core import clock  # noqa: E402
from parley.core.events import DeliveryRecorded, StaffChanged  # noqa: E402
from parley.core.models import StreamConsumer, StreamEntry  # noqa: E402
from parley.core.publish import publish  # noqa: E402
from parley.core.stream import wake  # noqa: E402
from parley.core.stream.consumers import Consumer, Delivery, get, register  # noqa: E402
from parley.core.stream.runner import run_batch  # noqa: E402

PER_TRANSACTION = 100


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _line(label: str, count: int, seconds: float, extra: str = "") -> None:
    print(f"  {label:<52} {count / seconds:>10,.0f} events/s  {extra}", flush=True)


def _latencies(samples: list[float]) -> str:
    if not samples:
        return ""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"batch p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def _deliveries(business: Business, n: int, prefix: str) -> list[DeliveryRecorded]:
    at = clock.now() - dt.timedelta(hours=1)
    return [
        DeliveryRecorded(
            business_id=business.pk, occurred_at=at, message_id=f"{prefix}-{i}",
            agent_id="bench-agent", agent_category="NON_CONVERSATIONAL",
            customer=f"+9198765{i % 50_000:05d}", channel="RCS", direction="A2P",
            content="rich_card", sent_at=at, delivered_at=at,
        )
        for i in range(n)
    ]  # fmt: skip


def _publish_all(events: list[DeliveryRecorded] | list[StaffChanged]) -> float:
    started = time.perf_counter()
    for i in range(0, len(events), PER_TRANSACTION):
        with transaction.atomic():
            for event in events[i : i + PER_TRANSACTION]:
                publish(event)
    return time.perf_counter() - started


def _drain(name: str) -> tuple[int, float, list[float]]:
    consumer = get(name)
    start = StreamConsumer.objects.filter(name=name).values_list("position", flat=True).first()
    batches: list[float] = []
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        if not run_batch(consumer):
            break
        batches.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    end = StreamConsumer.objects.get(name=name).position
    moved = StreamEntry.objects.filter(id__gt=start or 0, id__lte=end)
    if consumer.events is not None:
        moved = moved.filter(name__in=sorted(consumer.events))
    return moved.count(), elapsed, batches[:-1] or batches


def stream(n: int) -> None:
    print(
        f"\nThe event stream ({connection.vendor}, {n:,} events, {PER_TRANSACTION} per transaction)"
    )
    business = Business.objects.create(
        name="Bench", slug=f"bench-{time.time_ns()}", country="IN", created_at=clock.now()
    )
    noop_seen = [0]

    def noop(items: list[Delivery]) -> None:
        noop_seen[0] += len(items)

    register(Consumer("bench-noop", noop, frozenset({StaffChanged.name})))
    # Consumers this run does not drain would otherwise start from every older entry.
    last = StreamEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for name in ("console", "billing", "bench-noop"):
        StreamConsumer.objects.update_or_create(name=name, defaults={"position": last})

    # Publishing: the outbox row in the caller's transaction, and the wake after commit.
    now = clock.now()
    staff_events = [
        StaffChanged(business_id=business.pk, occurred_at=now, user_ids=(i,), change="bench")
        for i in range(n)
    ]
    _line("publish (outbox row + wake per transaction)", n, _publish_all(staff_events))

    count, elapsed, batches = _drain("bench-noop")
    _line("log -> no-op consumer", count, elapsed, _latencies(batches))

    deliveries = _deliveries(business, n, "stream")
    _line("publish DeliveryRecorded", n, _publish_all(deliveries))
    count, elapsed, batches = _drain("billing")
    facts = MessageFactRecord.objects.filter(business=business, message_id__startswith="stream-")
    _line("log -> billing consumer (one upsert per batch)", count, elapsed, _latencies(batches))
    print(f"  {'':<52} {facts.count():>10,} facts recorded")

    print("  baselines")
    from billing.actions import do_record_facts

    m = min(n, 5_000)
    old = _deliveries(business, m, "inprocess")
    started = time.perf_counter()
    for event in old:  # what the in-process listener did: one delivery, one transaction
        with transaction.atomic():
            do_record_facts(business, [fact_from_event(event)])
    _line("in-process listener, one transaction per delivery", m, time.perf_counter() - started)
    _wakes(m)
    _redis_streams(n)
    print(f"  peak memory {_peak_mb():,.0f} MB")


def _timed(fn: Callable[[], object], times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        fn()
    return time.perf_counter() - started


def _wakes(times: int) -> None:
    from parley.core.tasks import run_stream

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(wake.wake_key(), b"1", ex=60)  # a run is queued: the common case under load
    mark = _timed(wake.wake_consumers, times)
    client.delete(wake.wake_key())
    enqueue = _timed(run_stream.delay, times)
    client.delete(settings.NAMESPACE)  # the queued runs: no worker here
    print(
        f"  {'wake per transaction: Redis mark / Celery delay':<52} "
        f"{mark / times * 1e6:>7,.0f} µs / {enqueue / times * 1e6:,.0f} µs per commit"
    )
    client.close()


def _redis_streams(n: int) -> None:
    """The same events moved through a Redis Streams consumer group: what an outbox relay
    would feed, and what a consumer would read, acknowledge and (on a crash) reclaim."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = f"{settings.NAMESPACE}:bench:stream"
    client.delete(key)
    client.xgroup_create(key, "bench", id="0", mkstream=True)
    rows = list(StreamEntry.objects.order_by("-id").values_list("id", "payload")[:n])
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for stream_id, payload in rows:
        pipe.xadd(key, {"id": stream_id, "payload": json.dumps(payload)})
        if len(pipe) >= 500:
            pipe.execute()
    pipe.execute()
    added = time.perf_counter() - started
    started = time.perf_counter()
    read = 0
    while True:
        got: Any = client.xreadgroup("bench", "c1", {key: ">"}, count=500)
        if not got:
            break
        entries: list[tuple[bytes, dict[bytes, bytes]]] = got[0][1]
        ids = [entry_id for entry_id, _ in entries]
        for _, fields in entries:
            json.loads(fields[b"payload"])
        client.xack(key, "bench", *ids)
        read += len(ids)
    consumed = time.perf_counter() - started
    _line("Redis Streams: relay XADD (outbox already read)", len(rows), added)
    _line("Redis Streams: XREADGROUP + XACK, no-op consumer", read, consumed)
    client.delete(key)
    client.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    call_command("migrate", verbosity=0)
    if os.environ.get("SPINE_PROFILE"):
        import cProfile

        cProfile.runctx("stream(n)", globals(), {"n": n, "stream": stream}, sort="cumtime")
        return
    stream(n)


if __name__ == "__main__":
    main()
