"""Fast bulk writes for billing's high-volume tables: COPY on PostgreSQL, one executemany
elsewhere. The ORM's bulk_create builds a model instance per row, which costs more than the
rating itself at a million rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Model

Row = Sequence[Any]


def _table(model: type[Model]) -> str:
    return model._meta.db_table


def _sqlite_value(value: Any) -> Any:
    kind = type(value)
    if kind is dt.datetime:
        # Django keeps SQLite datetimes as naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]".
        if value.tzinfo is not dt.UTC:
            value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None).isoformat(" ")
    if kind is dt.date:
        return value.isoformat()
    if kind is Decimal:
        return str(value)
    return value


def _adapt_for_sqlite(row: Row) -> tuple[Any, ...]:
    # Called once per row at up to a million rows: plain loops, no ORM adapters.
    return tuple([_sqlite_value(v) for v in row])


def _names(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in columns)


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Insert rows (no conflict handling); returns how many."""
    table = _table(model)
    cols = _names(columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: COPY is not in the DB-API
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join(["%s"] * len(columns))
        batch: list[tuple[Any, ...]] = []
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        for row in rows:
            batch.append(_adapt_for_sqlite(row))
            if len(batch) >= 10_000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def upsert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> int:
    """Insert rows, updating `update` columns where the `conflict` columns already exist."""
    table = _table(model)
    cols = _names(columns)
    quote = connection.ops.quote_name
    on_conflict = f"ON CONFLICT ({_names(conflict)}) DO UPDATE SET " + ", ".join(
        f"{quote(c)} = EXCLUDED.{quote(c)}" for c in update
    )
    if connection.vendor != "postgresql":
        count = 0
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) {on_conflict}"
        with connection.cursor() as cursor:
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(_adapt_for_sqlite(row))
                if len(batch) >= 10_000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        return count
    staging = f"staging_{table}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        count = 0
        with cursor.cursor.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {on_conflict}")
        cursor.execute(f"DELETE FROM {staging}")
    return count
