"""The bulk writes: a small batch is one statement, a large one a COPY on PostgreSQL; both
land every row with its values, and an upsert leaves or updates what exists."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.core.bulk import insert_rows, upsert_rows
from parley.core.models import StreamConsumer, StreamEntry

pytestmark = pytest.mark.django_db

COLUMNS = ["name", "business_id", "audience", "user_id", "key", "payload", "occurred_at"]
AT = dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC)


def rows(count: int, tag: str) -> list[list[object]]:
    return [[tag, 7, ",agent,", None, f"k{i}", {"i": i, "text": "naïve \x01'\""}, AT]
            for i in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [1, 3, 999, 1000, 1200])
def test_every_row_lands_with_its_values_whatever_the_batch(count: int) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(StreamEntry, COLUMNS, iter(rows(count, "bulk.test"))) == count
    inserts = [q for q in queries.captured_queries if "core_stream_entry" in q["sql"]]
    if connection.vendor == "postgresql":
        # One statement: an INSERT from arrays below a thousand rows, a COPY from there on.
        assert len(inserts) == 1
        assert inserts[0]["sql"].startswith("COPY" if count >= 1000 else "INSERT")
    got = list(StreamEntry.objects.filter(name="bulk.test").order_by("id").values_list(
        "key", "payload", "occurred_at", "user_id"))  # fmt: skip
    assert [g[0] for g in got] == [f"k{i}" for i in range(count)]
    assert got[-1][1] == {"i": count - 1, "text": "naïve \x01'\""}
    assert {g[2] for g in got} == {AT} and {g[3] for g in got} == {None}


def test_nothing_to_insert_is_no_statement() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert insert_rows(StreamEntry, COLUMNS, []) == 0
    assert not queries.captured_queries


@pytest.mark.parametrize("count", [2, 1200])
def test_an_upsert_updates_or_leaves_the_rows_that_exist(count: int) -> None:
    StreamConsumer.objects.create(name="c0", position=5, processed=1)
    new = [(f"c{i}", 10 + i, 0) for i in range(count)]
    upsert_rows(StreamConsumer, ["name", "position", "processed"], new,
                conflict=["name"], update=[])  # fmt: skip
    assert StreamConsumer.objects.get(name="c0").position == 5  # left as it was
    assert StreamConsumer.objects.get(name=f"c{count - 1}").position == 10 + count - 1
    upsert_rows(StreamConsumer, ["name", "position", "processed"], new,
                conflict=["name"], update=["position"])  # fmt: skip
    assert StreamConsumer.objects.get(name="c0").position == 10
    assert StreamConsumer.objects.count() == count
