"""Bulk writes (parley.core.bulk) at the batch sizes the message path writes, on the
configured database (DATABASE_URL; default: a fresh SQLite file): client CPU and wall time
per row for inserts of 1 to 1,000 rows and updates by key of 1 and 30 rows, each batch in
its own transaction as the actions write them. Prints figures; asserts nothing about time.

Baselines in the same run: the ORM (bulk_create, bulk_update) for the same rows, and on
PostgreSQL the module with its few-row statements turned off (every batch as arrays read
back through unnest, as before them).

    .venv/bin/python bench/bulk.py
    .venv/bin/python bench/bulk.py --rows 1000
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

from bootstrap import setup_django

setup_django()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from parley.core import bulk  # noqa: E402
from parley.core.models import StreamEntry  # noqa: E402

COLUMNS = ["name", "business_id", "audience", "user_id", "key", "payload", "occurred_at"]
AT = dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC)


def _row(i: int) -> list[object]:
    return ["bench.bulk", 7, ",agent,", None, f"k{i}", {"i": i, "text": "hello"}, AT]


Write = Callable[[int], None]


def _arrays(write: Write) -> Write:
    """`write` with the module's few-row statements turned off."""

    def as_arrays(size: int) -> None:
        few, bulk._FEW = bulk._FEW, 0
        try:
            write(size)
        finally:
            bulk._FEW = few

    return as_arrays


def _per_row(writers: dict[str, Write], size: int, rows: int) -> dict[str, tuple[float, float]]:
    """(client CPU µs, wall µs) per row of each writer: the median of five rounds of `rows`
    rows written in batches of `size`, one transaction a batch, the writers taking turns
    round by round (so a slower spell of the machine falls on all of them)."""
    batches = max(1, rows // size)
    cpu: dict[str, list[float]] = {label: [] for label in writers}
    wall: dict[str, list[float]] = {label: [] for label in writers}
    for _ in range(5):
        for label, write in writers.items():
            started_cpu, started = time.process_time(), time.perf_counter()
            for _ in range(batches):
                with transaction.atomic():
                    write(size)
            cpu[label].append((time.process_time() - started_cpu) / (batches * size) * 1e6)
            wall[label].append((time.perf_counter() - started) / (batches * size) * 1e6)
    return {
        label: (statistics.median(cpu[label]), statistics.median(wall[label])) for label in writers
    }


def _insert(size: int) -> None:
    bulk.insert_rows(StreamEntry, COLUMNS, [_row(i) for i in range(size)])


def _orm_insert(size: int) -> None:
    StreamEntry.objects.bulk_create(
        StreamEntry(**dict(zip(COLUMNS, _row(i), strict=True))) for i in range(size)
    )


class Rows:
    """The table's rows, taken `size` at a time round it: no row is updated again and again
    (its dead versions would cost every later update more)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids, self.at = ids, 0

    def next(self, size: int) -> list[int]:
        if self.at + size > len(self.ids):
            self.at = 0
        self.at += size
        return self.ids[self.at - size : self.at]


def _update(ids: Rows) -> Write:
    def write(size: int) -> None:
        bulk.update_rows(StreamEntry, ["payload", "occurred_at"],
                         [(pk, {"n": 1}, AT) for pk in ids.next(size)])  # fmt: skip

    return write


def _orm_update(ids: Rows) -> Write:
    def write(size: int) -> None:
        entries = [StreamEntry(pk=pk, payload={"n": 1}, occurred_at=AT)
                   for pk in ids.next(size)]  # fmt: skip
        StreamEntry.objects.bulk_update(entries, ["payload", "occurred_at"])

    return write


def _lines(size: int, figures: dict[str, tuple[float, float]]) -> None:
    base = next(iter(figures.values()))
    for label, (cpu, wall) in figures.items():
        print(
            f"  {label:<24} {size:>5} rows: {cpu:7.1f} µs CPU, {wall:7.1f} µs wall a row "
            f"({cpu / base[0]:.2f} and {wall / base[1]:.2f} of the ORM's)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000, help="rows per round and size")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    pg = connection.vendor == "postgresql"
    print(f"{connection.vendor}: inserts into the stream's log ({len(COLUMNS)} columns, jsonb)")
    for size in (1, 2, 4, 5, 30, 1000):
        writers: dict[str, Write] = {"ORM bulk_create": _orm_insert, "bulk.insert_rows": _insert}
        if pg and size < bulk._FEW:
            writers["… as arrays (unnest)"] = _arrays(_insert)
        _lines(size, _per_row(writers, size, max(args.rows, size)))
    ids = Rows(list(StreamEntry.objects.order_by("id").values_list("id", flat=True)))
    print("updates by key (jsonb and a timestamp)")
    for size in (1, 30):
        writers = {"ORM bulk_update": _orm_update(ids), "bulk.update_rows": _update(ids)}
        if pg and size == 1:
            writers["… as arrays (unnest)"] = _arrays(_update(ids))
        _lines(size, _per_row(writers, size, max(args.rows, size)))


if __name__ == "__main__":
    main()
