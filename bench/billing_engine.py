"""Benchmark of the billing rating engine alone (no database).

Run: .venv/bin/python bench/billing_engine.py [--facts N] [--batch N]

Generates N synthetic facts (default 1,000,000; billing.engine.synthetic), then rates them:

* batch   — ``rate()`` on all facts in random order (groups by customer, sorts each
            customer's facts, pauses the cyclic GC), cold country cache;
* stream  — ``rate_stream()`` on facts already in ``sort_key`` order, as a DB query with
            ORDER BY would deliver them;
* batches — ``rate()`` per batch of about --batch facts (whole customers), p50/p99 latency;
* baseline — the straightforward way to use the same engine: ``sorted(key=sort_key)`` over
            everything, then ``rate_stream`` with the garbage collector left on.

Prints figures only; nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.engine import rate, rate_stream, sort_facts, sort_key
from billing.engine.countries import clear_country_cache
from billing.engine.facts import MessageFact
from billing.engine.synthetic import SYNTHETIC_NOW, generate_facts


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall and CPU time: the machine is shared, CPU time is the steadier figure."""

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0

    def rates(self, n: int) -> str:
        return (
            f"{self.wall:.2f} s wall ({n / self.wall:,.0f} facts/s), "
            f"{self.cpu:.2f} s CPU ({n / self.cpu:,.0f} facts/s)"
        )


def batches_by_customer(ordered: list[MessageFact], size: int) -> list[list[MessageFact]]:
    out: list[list[MessageFact]] = []
    current: list[MessageFact] = []
    for fact in ordered:
        if len(current) >= size and fact.customer != current[-1].customer:
            out.append(current)
            current = []
        current.append(fact)
    if current:
        out.append(current)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    n = args.facts

    t = time.perf_counter()
    facts = generate_facts(n, seed=42)
    print(f"generated {n:,} facts in {time.perf_counter() - t:.1f} s (not part of the rating)")
    rss_facts = peak_rss_mb()
    print(f"peak RSS with the facts in memory: {rss_facts:,.0f} MB")

    clear_country_cache()
    with Timer() as batch_t:
        result = rate(facts, now=SYNTHETIC_NOW)
    stats = result.stats
    print(f"\nbatch   rate() on {n:,} facts in random order: {batch_t.rates(n)}")
    print(
        f"        events {stats.events:,}  delivered {stats.delivered:,}  "
        f"expired {stats.expired:,}  pending {stats.pending:,}"
    )
    kinds = Counter(e.event_type.value for e in result.events)
    print("        events by type: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    print(
        f"        peak RSS after rating: {peak_rss_mb():,.0f} MB "
        f"(+{peak_rss_mb() - rss_facts:,.0f} MB for sorting and events)"
    )
    del result

    ordered = sort_facts(facts)
    clear_country_cache()
    with Timer() as stream:
        count = sum(1 for _ in rate_stream(ordered, now=SYNTHETIC_NOW))
    print(
        f"stream  rate_stream() on {len(ordered):,} sorted delivered facts: "
        f"{stream.rates(len(ordered))}, events {count:,}"
    )

    clear_country_cache()
    latencies = []
    for batch in batches_by_customer(ordered, args.batch):
        t = time.perf_counter()
        rate(batch, now=SYNTHETIC_NOW)
        latencies.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"batches of ~{args.batch:,} facts: {len(latencies)} batches  "
        f"p50 {q[49]:.1f} ms  p99 {q[98]:.1f} ms  max {max(latencies):.1f} ms"
    )

    clear_country_cache()
    gc.collect()
    with Timer() as base:
        delivered = sorted((f for f in facts if f.delivered_at is not None), key=sort_key)
        events = list(rate_stream(delivered, now=SYNTHETIC_NOW))
    print(
        f"\nbaseline sorted(key=sort_key) + list(rate_stream()), GC on: {base.rates(n)}, "
        f"events {len(events):,}"
    )
    print(f"batch rate() vs baseline: {base.cpu / batch_t.cpu:.2f}x faster (CPU time)")


if __name__ == "__main__":
    main()
