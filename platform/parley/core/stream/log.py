"""Writing and reading the log.

Ids come from the table's sequence, so on PostgreSQL two concurrent transactions may commit
out of id order: a reader that saw id 7 could later find id 6. A publishing transaction
therefore first takes a shared advisory lock (held until it ends) keyed by the sequence's
next value at that moment, which is at most any id it will take. Readers stop below the smallest
key still held by another transaction, so a consumer's position never jumps an id that is
still in flight. Nobody takes these locks exclusively: publishers never wait. SQLite writes
one transaction at a time, so its ids commit in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Max, QuerySet

from parley.core import clock
from parley.core.bulk import insert_returning
from parley.core.events import Event
from parley.core.models import StreamEntry

_INSERT = (
    "INSERT INTO core_stream_entry"
    ' ("name", "business_id", "audience", "user_id", "key", "payload", "occurred_at")'
    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
)
# Advisory lock keys of the stream: this bit set, the low bits carry the sequence value.
_LOCK_TAG = 1 << 62
_sequence: str | None = None


def audience_field(roles: frozenset[str]) -> str:
    ordered = sorted(roles)
    return f",{','.join(ordered)}," if ordered else ""


def _sequence_name() -> str:
    global _sequence
    if _sequence is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence('core_stream_entry', 'id')")
            _sequence = str(cursor.fetchone()[0])
    return _sequence


def _hold_position() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s | (last_value + is_called::int))"
                f" FROM {_sequence_name()}",
                [_LOCK_TAG],
            )


_COLUMNS = ["name", "business_id", "audience", "user_id", "key", "payload", "occurred_at"]


def _row(event: Event) -> list[Any]:
    """The event's row (columns `_COLUMNS`), as Python values."""
    return [
        event.name,
        event.business_id,
        audience_field(event.audience),
        event.user_id,
        event.stream_key()[:200],
        event.payload(),
        event.occurred_at or clock.now(),
    ]


def _values(event: Event) -> list[Any]:
    """The event's row as DB-API parameters (through Django's adapters)."""
    ops, row = connection.ops, _row(event)
    row[5] = ops.adapt_json_value(row[5], None)
    row[6] = ops.adapt_datetimefield_value(row[6])
    return row


def append(event: Event, *, first_in_transaction: bool) -> int:
    """Insert the event's row in the current transaction (the caller's); returns its id."""
    if first_in_transaction:
        _hold_position()
    # One plain INSERT: this runs for every event an action publishes.
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, _values(event))
        row = cursor.fetchone()
    return int(row[0])


_MANY_CHUNK = 100  # 700 parameters: within every SQLite build's limit


def append_many(events: Sequence[Event], *, first_in_transaction: bool) -> list[int]:
    """Insert the events' rows in order, in one statement per chunk; returns their ids."""
    if first_in_transaction:
        _hold_position()
    if connection.vendor == "postgresql":
        # One statement over arrays, whatever the count: its text never changes, so the
        # driver parses it once (a VALUES list of thousands of parameters costs more to
        # parse on the client than to insert).
        return insert_returning(StreamEntry, _COLUMNS, [_row(event) for event in events])
    ids: list[int] = []
    head = _INSERT.split(" VALUES ")[0]
    for start in range(0, len(events), _MANY_CHUNK):
        chunk = events[start : start + _MANY_CHUNK]
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        params = [v for event in chunk for v in _values(event)]
        with connection.cursor() as cursor:
            cursor.execute(f"{head} VALUES {rows} RETURNING id", params)
            # Rows come back in VALUES order on both databases (ids from one sequence).
            ids += sorted(int(r[0]) for r in cursor.fetchall())
    return ids


def safe_bound(after: int, *, last: int | None = None) -> int:
    """The largest id at or below which no entry can still appear (other transactions).
    `last`: the log's last id, when the caller has just read it."""
    if last is None:
        last = int(StreamEntry.objects.filter(id__gt=after).aggregate(m=Max("id"))["m"] or after)
    last = max(last, after)
    if connection.vendor != "postgresql" or last <= after:
        return last
    # Read after the maximum: a publisher that locks later takes ids above it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(((classid::bigint << 32) | objid::bigint) & %s) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objsubid = 1 AND classid::bigint >= %s"
            " AND pid <> pg_backend_pid() AND database = ("
            "  SELECT oid FROM pg_database WHERE datname = current_database())",
            [_LOCK_TAG - 1, _LOCK_TAG >> 32],
        )
        row = cursor.fetchone()
    in_flight = row[0] if row else None
    return last if in_flight is None else max(after, min(last, int(in_flight) - 1))


def last_id() -> int:
    return int(StreamEntry.objects.aggregate(m=Max("id"))["m"] or 0)


def to_event(entry: StreamEntry | Row) -> Event:
    return Event.from_payload(entry.name, entry.business_id, entry.payload, entry.user_id)


class Row(NamedTuple):
    """An entry as consumers read it (no model instance per row)."""

    id: int
    name: str
    business_id: int
    user_id: int | None
    key: str
    payload: dict[str, Any]


ROW_FIELDS = Row._fields


def rows(qs: QuerySet[StreamEntry]) -> list[Row]:
    return [Row(*values) for values in qs.values_list(*ROW_FIELDS)]
