"""Plaintext scanner: does a known plaintext marker appear anywhere the relay keeps state?

`find_plaintext(marker)` reads every column of every row of every relay table (found through
Django's introspection, so new tables are covered without editing this file) and every key
and value in the Redis keyspace, and returns where the marker (raw, hex, or base64 at any
alignment) was found. An empty list means the relay holds no trace of it."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.db import connection


def _needles(marker: bytes) -> list[bytes]:
    needles = [marker, marker.hex().encode(), marker.hex().upper().encode()]
    # base64 of the marker at each of the three alignments inside a longer message: the
    # stable middle part of each encoding.
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + marker)
        first_group = -(-pad // 3)  # the first 3-byte group made only of marker bytes
        last_group = (pad + len(marker)) // 3 - 1
        middle = encoded[4 * first_group : 4 * (last_group + 1)]
        if len(middle) >= 8:
            needles.append(middle)
            needles.append(middle.replace(b"+", b"-").replace(b"/", b"_"))
    return needles


def _as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    return str(value).encode("utf-8", "surrogatepass")


def _contains(data: bytes, needles: Iterable[bytes]) -> bool:
    return any(n in data for n in needles)


def relay_tables() -> list[str]:
    with connection.cursor() as cursor:
        return sorted(
            t for t in connection.introspection.table_names(cursor) if t.startswith("relay_")
        )


def _scan_database(needles: list[bytes]) -> list[str]:
    found: list[str] = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in relay_tables():
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            cursor.execute(f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(table)}")
            for row_number, row in enumerate(cursor.fetchall()):
                for column, value in zip(columns, row, strict=True):
                    if _contains(_as_bytes(value), needles):
                        found.append(f"db:{table}.{column}[row {row_number}]")
    return found


def _redis_values(client: redis.Redis, key: bytes) -> list[Any]:
    kind = client.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return list(client.zrange(key, 0, -1))
    if kind == "hash":
        return [b for kv in client.hgetall(key).items() for b in kv]
    if kind == "stream":
        entries: Any = client.xrange(key)
        return [b for _, fields in entries for kv in fields.items() for b in kv]
    return []


def _scan_redis(needles: list[bytes]) -> list[str]:
    found: list[str] = []
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for key in client.scan_iter(count=1000):
            if _contains(key, needles):
                found.append(f"redis:key {key!r}")
                continue
            try:
                values = _redis_values(client, key)
            except redis.ResponseError:  # expired or changed type mid-scan
                continue
            if any(_contains(_as_bytes(v), needles) for v in values):
                found.append(f"redis:{key!r}")
    finally:
        client.close()
    return found


def find_plaintext(marker: bytes) -> list[str]:
    """Every place in the relay's tables and the Redis keyspace holding `marker`."""
    if len(marker) < 8:
        raise ValueError("use a marker of at least 8 random bytes to avoid false positives")
    needles = _needles(marker)
    return _scan_database(needles) + _scan_redis(needles)
