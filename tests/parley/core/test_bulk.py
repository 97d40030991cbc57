"""The bulk writes: a batch is one statement (plain VALUES for a few rows, arrays for more),
a large one a COPY on PostgreSQL; all land every row with its values, an upsert leaves or
updates what exists, and an update by key sets each row's own values."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.core.bulk import insert_returning, insert_rows, update_rows, upsert_rows
from parley.core.models import StreamConsumer, StreamEntry

pytestmark = pytest.mark.django_db

COLUMNS = ["name", "business_id", "audience", "user_id", "key", "payload", "occurred_at"]
AT = dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC)


def rows(count: int, tag: str) -> list[list[object]]:
    return [[tag, 7, ",agent,", None, f"k{i}", {"i": i, "text": "naïve \x01'\""}, AT]
            for i in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [1, 3, 5, 999, 1000, 1200])
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


@pytest.mark.parametrize("count", [2, 7, 1200])
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


@pytest.mark.parametrize("count", [1, 4, 6])
def test_inserted_ids_come_back_in_the_rows_order(count: int) -> None:
    ids = insert_returning(StreamEntry, COLUMNS, rows(count, "bulk.ids"))
    assert ids == sorted(ids) and len(set(ids)) == count
    keys = dict(StreamEntry.objects.filter(pk__in=ids).values_list("pk", "key"))
    assert [keys[i] for i in ids] == [f"k{i}" for i in range(count)]


@pytest.mark.parametrize("count", [1, 3])
def test_an_update_by_key_sets_each_rows_own_values(count: int) -> None:
    ids = insert_returning(StreamEntry, COLUMNS, rows(count + 1, "bulk.update"))
    later = AT + dt.timedelta(hours=1)
    changed = [(pk, {"n": n, "quote": "'\""}, later, None if n else 42)
               for n, pk in enumerate(ids[:count])]  # fmt: skip
    assert update_rows(StreamEntry, ["payload", "occurred_at", "user_id"], changed) == count
    got = {e.pk: e for e in StreamEntry.objects.filter(pk__in=ids)}
    for n, pk in enumerate(ids[:count]):
        assert got[pk].payload == {"n": n, "quote": "'\""}
        assert got[pk].occurred_at == later and got[pk].user_id == (None if n else 42)
    untouched = got[ids[-1]]  # the row past the update keeps its values
    assert untouched.occurred_at == AT and untouched.payload["i"] == count
