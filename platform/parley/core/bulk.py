"""Fast bulk writes for high-volume tables (billing's facts, webhook deliveries, the relay's
envelopes): on PostgreSQL one `INSERT … SELECT FROM unnest(arrays)` for a batch under a
thousand rows and COPY for more, one executemany elsewhere. The ORM's bulk_create builds a
model instance per row, which costs more than the rating itself at a million rows, and on
PostgreSQL quotes every value in Python (client-side binding): long text such as a webhook
body costs more to quote than to send."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import chain, islice
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Model
from psycopg.types.json import Jsonb

Row = Sequence[Any]


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(c) for c in columns)


def _internal_type(model: type[Model], column: str) -> str:
    field = model._meta.get_field(column)
    assert isinstance(field, Field)
    return field.get_internal_type()


def _sqlite_value(value: Any) -> Any:
    kind = type(value)
    if kind is dict or kind is list:
        return json.dumps(value)
    if kind is dt.datetime:
        # Django keeps SQLite datetimes as naive UTC text "YYYY-MM-DD HH:MM:SS[.ffffff]":
        # the ISO form of a UTC time less its "+00:00".
        if value.tzinfo is not dt.UTC:
            value = value.astimezone(dt.UTC)
        return value.isoformat(" ")[:-6]
    if kind is dt.date:
        return value.isoformat()
    if kind is Decimal:
        return str(value)
    if kind is uuid.UUID:
        return value.hex  # Django keeps SQLite UUIDs as 32 hex digits
    return value


def _sqlite_adapter(model: type[Model], columns: Sequence[str]) -> Callable[[Row], list[Any]]:
    """A per-row adapter that touches only the columns needing it (datetimes, dates,
    decimals): it runs a million times, so no per-value calls for the rest."""
    kinds = {"DateTimeField", "DateField", "DecimalField", "JSONField", "UUIDField"}
    special = [i for i, c in enumerate(columns) if _internal_type(model, c) in kinds]

    def adapt(row: Row) -> list[Any]:
        out = list(row)
        for i in special:
            if out[i] is not None:
                out[i] = _sqlite_value(out[i])
        return out

    return adapt


def _executemany(model: type[Model], columns: Sequence[str], rows: Iterable[Row], tail: str) -> int:
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {_table(model)} ({_names(columns)}) VALUES ({marks}) {tail}"
    adapt = _sqlite_adapter(model, columns)
    count = 0
    batch: list[list[Any]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(adapt(row))
            if len(batch) >= 10_000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


_PG_TYPES = {
    "CharField": "text",
    "TextField": "text",
    "ForeignKey": "int8",
    "BigIntegerField": "int8",
    "PositiveIntegerField": "int4",
    "PositiveSmallIntegerField": "int2",
    "PositiveBigIntegerField": "int8",
    "BinaryField": "bytea",
    "FloatField": "float8",
    "JSONField": "jsonb",
    "IntegerField": "int4",
    "SmallIntegerField": "int2",
    "BooleanField": "bool",
    "DateTimeField": "timestamptz",
    "DateField": "date",
    "DecimalField": "numeric",
    "UUIDField": "uuid",
}
# Fewer rows than this go in one `INSERT … SELECT FROM unnest(arrays)` (one round trip);
# more in a COPY, whose set-up pays off on volume.
_SMALL_BATCH = 1000
# Fewer rows than this go as plain VALUES, and a single row's update as a plain UPDATE:
# for one row, unnest's arrays cost the driver about three times the CPU of the statement
# alone, a fifth more with the transaction around it (bench/bulk.py). At 1, they are off.
_FEW = 5


def _copy(model: type[Model], columns: Sequence[str], rows: Iterable[Row], table: str = "") -> int:
    count = 0
    types = [_PG_TYPES[_internal_type(model, c)] for c in columns]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # psycopg's own cursor: COPY is not in the DB-API
        sql = f"COPY {table or _table(model)} ({_names(columns)}) FROM STDIN (FORMAT BINARY)"
        json_columns = [i for i, t in enumerate(types) if t == "jsonb"]
        with raw.copy(_logged(sql)) as copy:
            # Declared types spare psycopg a dumper lookup for every value.
            copy.set_types(types)
            for row in rows:
                if json_columns:
                    row = list(row)
                    for i in json_columns:
                        row[i] = None if row[i] is None else Jsonb(row[i])
                copy.write_row(row)
                count += 1
    return count


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Insert rows (no conflict handling); returns how many."""
    if connection.vendor != "postgresql":
        return _executemany(model, columns, rows, "")
    rows = iter(rows)
    head = list(islice(rows, _SMALL_BATCH))
    if len(head) < _SMALL_BATCH:
        if head:
            _insert_statement(model, columns, head, "")
        return len(head)
    return _copy(model, columns, chain(head, rows))


def insert_instances(objs: Sequence[Model]) -> int:
    """Insert unsaved instances of one model as they stand, their primary keys left unset:
    bulk_create's work without preparing every value through its field (no `pre_save`, so
    every column must be set; no ids back). Returns how many."""
    if not objs:
        return 0
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    return insert_rows(
        model, [f.column for f in fields], [[getattr(o, n) for n in names] for o in objs]
    )


def _logged(sql: str) -> str:
    """The statement, noted where Django notes its own when it is asked to (DEBUG, or a
    test that counts statements): a driver cursor's statements are not seen otherwise."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": "0.000"})
    return sql


@contextlib.contextmanager
def _bound_cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A cursor on Django's connection (its transaction) that sends the parameters apart
    from the statement: Django's own cursor quotes every array element into the SQL text
    in Python, which costs more than the insert."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _pg_arrays(types: list[str], batch: Sequence[Row]) -> tuple[list[list[Any]], str]:
    """The rows as one array a column (JSON wrapped for jsonb) and the `unnest(...)`
    arguments that read them back as rows: one statement for the whole batch."""
    arrays = [list(values) for values in zip(*batch, strict=True)]
    for i, kind in enumerate(types):
        if kind == "jsonb":
            arrays[i] = [None if v is None else Jsonb(v) for v in arrays[i]]
    # Binary parameters: no text escaping of every element.
    return arrays, ", ".join(f"%b::{kind}[]" for kind in types)


def _pg_row(types: list[str], row: Row) -> list[Any]:
    """The row's values as parameters, JSON wrapped for jsonb."""
    return [Jsonb(v) if kind == "jsonb" and v is not None else v
            for kind, v in zip(types, row, strict=True)]  # fmt: skip


def _pg_values(types: list[str], batch: Sequence[Row]) -> tuple[list[Any], str]:
    """The rows' values one after another and the `(…), (…)` of typed placeholders that
    reads them: for a few rows, cheaper to send and to plan than arrays read back through
    unnest."""
    params = [value for row in batch for value in _pg_row(types, row)]
    one = "(" + ", ".join(f"%s::{kind}" for kind in types) + ")"
    return params, ", ".join([one] * len(batch))


def insert_returning(model: type[Model], columns: Sequence[str], rows: Iterable[Row]) -> list[int]:
    """Insert rows and return their primary keys, in the rows' order: one `INSERT … SELECT
    FROM unnest(arrays)` on PostgreSQL (the ORM's bulk_create prepares every value through
    its field first, and quotes a statement of rows times columns parameters)."""
    batch = list(rows)
    if not batch:
        return []
    table, pk = _table(model), connection.ops.quote_name(model._meta.pk.column)
    if connection.vendor != "postgresql":
        adapt = _sqlite_adapter(model, columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({_names(columns)}) VALUES ({marks})"
        ids = []
        with connection.cursor() as cursor:
            for row in batch:
                cursor.execute(sql, adapt(row))
                ids.append(int(cursor.lastrowid))
        return ids
    returned = _insert_statement(model, columns, batch, f"RETURNING {pk}")
    # Ids come from one sequence, taken in the order the rows are inserted.
    return sorted(int(r[0]) for r in returned)


def _insert_statement(
    model: type[Model], columns: Sequence[str], batch: Sequence[Row], tail: str
) -> list[tuple[Any, ...]]:
    """One INSERT of the batch on PostgreSQL, `… SELECT * FROM unnest(one array a column)
    <tail>`, or `… VALUES (…), … <tail>` for a few rows; returns the rows `tail` returns
    (none without RETURNING)."""
    types = [_PG_TYPES[_internal_type(model, c)] for c in columns]
    if len(batch) < _FEW:
        params, rows = _pg_values(types, batch)
        sql = f"INSERT INTO {_table(model)} ({_names(columns)}) VALUES {rows} {tail}"
    else:
        params, unnest = _pg_arrays(types, batch)
        sql = (
            f"INSERT INTO {_table(model)} ({_names(columns)}) SELECT * FROM unnest({unnest}) {tail}"
        )
    with _bound_cursor() as cursor:
        cursor.execute(_logged(sql), params)
        return cursor.fetchall() if cursor.description is not None else []


def upsert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Row],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> int:
    """Insert rows, updating `update` columns where the `conflict` columns already exist
    (with no `update` columns, leaving the existing rows as they are)."""
    quote = connection.ops.quote_name
    on_conflict = f"ON CONFLICT ({_names(conflict)}) " + (
        "DO UPDATE SET " + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in update)
        if update
        else "DO NOTHING"
    )
    if connection.vendor != "postgresql":
        return _executemany(model, columns, rows, on_conflict)
    batch = list(rows)
    if len(batch) < _SMALL_BATCH:
        if batch:
            _insert_statement(model, columns, batch, on_conflict)
        return len(batch)
    try:
        # New rows are the common case: a plain COPY, without a staging table.
        with transaction.atomic():
            return _copy(model, columns, batch)
    except IntegrityError:
        pass
    table, cols = _table(model), _names(columns)
    staging = quote(f"staging_{model._meta.db_table}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        _copy(model, columns, batch, table=staging)
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} {on_conflict}")
        cursor.execute(f"DELETE FROM {staging}")
    return len(batch)


def update_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Update many rows by primary key, each row `(pk, *values of columns)`, in one
    statement on PostgreSQL (`UPDATE … FROM unnest(arrays)`) and one executemany elsewhere;
    the ORM's bulk_update builds a CASE expression per row and value, far slower."""
    batch = list(rows)
    if not batch:
        return 0
    quote = connection.ops.quote_name
    table, pk = _table(model), quote(model._meta.pk.column)
    if connection.vendor != "postgresql":
        adapt = _sqlite_adapter(model, columns)
        sets = ", ".join(f"{quote(c)} = %s" for c in columns)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {pk} = %s",
                [[*adapt(row[1:]), row[0]] for row in batch],
            )
        return len(batch)
    types = ["int8", *(_PG_TYPES[_internal_type(model, c)] for c in columns)]
    if len(batch) == 1 and _FEW > 1:
        # One row (a session saved, a conversation touched): a plain UPDATE by its key.
        key, *values = batch[0]
        marks = ", ".join(f"{quote(c)} = %s::{t}" for c, t in zip(columns, types[1:], strict=True))
        with _bound_cursor() as cursor:
            cursor.execute(
                _logged(f"UPDATE {table} SET {marks} WHERE {pk} = %s::int8"),
                [*_pg_row(types[1:], values), key],
            )
        return 1
    arrays, unnest = _pg_arrays(types, batch)
    names = ["id_", *(f"v{i}" for i in range(len(columns)))]
    sets = ", ".join(f"{quote(c)} = v.{n}" for c, n in zip(columns, names[1:], strict=True))
    with _bound_cursor() as cursor:
        cursor.execute(
            _logged(
                f"UPDATE {table} SET {sets} FROM unnest({unnest}) AS v({', '.join(names)}) "
                f"WHERE {table}.{pk} = v.id_"
            ),
            arrays,
        )
    return len(batch)
