"""Billing end to end: 1,000,000 synthetic message facts persisted, read back, rated, priced
and their events persisted, on the configured database (DATABASE_URL; default: a fresh
SQLite file in a temporary folder). Prints throughput, per-batch latency and peak memory,
with the engine alone and the ORM's bulk_create as baselines in the same run.

    .venv/bin/python bench/billing.py            # 1,000,000 facts
    .venv/bin/python bench/billing.py 200000     # fewer
"""

from __future__ import annotations

import resource
import statistics
import sys
import time

from bootstrap import percentile, setup_django

setup_django()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from billing.actions import do_ingest_facts, do_record_facts  # noqa: E402
from billing.engine import country_of, rate  # noqa: E402
from billing.engine.synthetic import SYNTHETIC_NOW, generate_facts  # noqa: E402
from billing.models import BillableEventRecord, MessageFactRecord  # noqa: E402
from billing.records import FACT_COLUMNS, fact_row  # noqa: E402
from parley.accounts.models import Business  # noqa: E402
from parley.core import clock  # noqa: E402

BATCH = 50_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    db = connection.settings_dict
    print(f"database: {connection.vendor} ({db['NAME']}), facts: {n:,}")
    if connection.vendor == "postgresql" and "bench" not in str(db["NAME"]):
        sys.exit("point DATABASE_URL at a database whose name contains 'bench' (it is wiped)")
    call_command("flush", "--no-input", verbosity=0) if connection.vendor == "postgresql" else None
    call_command("migrate", "--no-input", verbosity=0)

    started = time.perf_counter()
    facts = generate_facts(n, seed=7)
    print(f"generated in {time.perf_counter() - started:.1f}s (not counted)")

    # Baseline 1: the engine alone, no database.
    started = time.perf_counter()
    engine_events = len(rate(facts, now=SYNTHETIC_NOW).events)
    engine_s = time.perf_counter() - started
    print(f"engine alone: {n / engine_s:,.0f} facts/s ({engine_s:.1f}s, {engine_events:,} events)")

    business, _ = Business.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "country": "US", "created_at": SYNTHETIC_NOW}
    )
    clock.install(clock.FrozenClock(SYNTHETIC_NOW))

    # End to end: a first import of the million (persist facts, rate, price, persist events).
    started = time.perf_counter()
    stats = do_ingest_facts(business, facts)
    total_s = time.perf_counter() - started
    stored_events = BillableEventRecord.objects.filter(business=business).count()
    assert stored_events == engine_events == stats.events, "persisted events differ"
    print(
        f"end to end: {n / total_s:,.0f} facts/s ({total_s:.1f}s), {stored_events:,} events stored"
    )

    # Incremental ingestion, as deliveries arrive: batches of 5,000 into another business,
    # each recorded and re-rating the customers it touches (earlier batches included).
    live, _ = Business.objects.get_or_create(
        slug="bench-live", defaults={"name": "Live", "country": "US", "created_at": SYNTHETIC_NOW}
    )
    more = generate_facts(100_000, seed=11)
    batch_s: list[float] = []
    for i in range(0, len(more), 5_000):
        t = time.perf_counter()
        do_ingest_facts(live, more[i : i + 5_000])
        batch_s.append(time.perf_counter() - t)
    p50, p99 = statistics.median(batch_s), percentile(batch_s, 0.99)
    print(
        f"incremental batches of 5,000: {5_000 / p50:,.0f} facts/s, "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )

    # Our fact writes against the ORM's bulk_create (baseline 2), on the same 100,000 rows.
    sample = facts[: min(n, 100_000)]
    MessageFactRecord.objects.filter(business=business).delete()
    t = time.perf_counter()
    do_record_facts(business, sample)
    ours_s = time.perf_counter() - t
    MessageFactRecord.objects.filter(business=business).delete()
    t = time.perf_counter()
    with transaction.atomic():
        MessageFactRecord.objects.bulk_create(
            (
                MessageFactRecord(
                    **dict(
                        zip(
                            FACT_COLUMNS,
                            fact_row(business.pk, f, f.country or country_of(f.customer)),
                            strict=True,
                        )
                    )
                )
                for f in sample
            ),
            batch_size=5000,
        )
    orm_s = time.perf_counter() - t
    print(f"baseline ORM bulk_create of facts: {len(sample) / orm_s:,.0f} rows/s")
    print(f"our fact writes: {len(sample) / ours_s:,.0f} rows/s ({orm_s / ours_s:.1f}x the ORM)")
    print(f"peak memory (RSS): {peak_rss_mb():,.0f} MB")
    met = "met" if n >= 1_000_000 and total_s < 60 else "not met"
    print(f"target, 1,000,000 facts end to end in < 60 s: {met}")


if __name__ == "__main__":
    main()
