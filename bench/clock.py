"""The cost of `clock.now()` in a live process, which reads the installation's shared
simulation clock: the cached read (every call), a re-read from the database (after a move,
or every CLOCK_CACHE_SECONDS), with the wall clock and the local test clock as baselines
in the same run. On the configured database (DATABASE_URL; default: a fresh SQLite file).

    .venv/bin/python bench/clock.py
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from bootstrap import setup_django

setup_django()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from parley.core import clock  # noqa: E402


def per_call(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    call_command("migrate", verbosity=0)
    shared = clock.SharedClock(listen=False, max_age=3600)
    shared.now()
    fresh = clock.SharedClock(listen=False, max_age=0)  # re-reads the row on every call
    n = 200_000
    rows = [
        ("datetime.now(UTC) (baseline)", per_call(lambda: dt.datetime.now(dt.UTC), n)),
        ("local clock.Clock().now()", per_call(clock.Clock().now, n)),
        ("shared clock, cached", per_call(shared.now, n)),
        ("shared clock, re-read from the database", per_call(fresh.now, 2_000)),
    ]
    print(f"clock.now() on {connection.vendor}")
    for name, micros in rows:
        print(f"  {name:<42} {micros:8.2f} µs/call")


if __name__ == "__main__":
    main()
