"""Reachability of the parts Parley needs: the database, Redis and at least one Celery worker."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import redis
from django.conf import settings
from django.db import connection


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name: str, probe: Any) -> Check:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # any failure means "down"; the detail says why
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return Check(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    timeout = settings.PARLEY["HEALTH_TIMEOUT_SECONDS"]
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()
    return "pong"


def _celery() -> str:
    from parley.celery import app

    replies = app.control.ping(timeout=settings.PARLEY["HEALTH_TIMEOUT_SECONDS"], limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return "a worker answered"


def run_checks() -> list[Check]:
    checks = [_timed("database", _database), _timed("redis", _redis)]
    # Asking workers goes through Redis; skip the wait when Redis is already down.
    if checks[1].ok:
        checks.append(_timed("celery", _celery))
    else:
        checks.append(Check("celery", False, "unreachable: redis is down", 0.0))
    return checks


def stream_report() -> dict[str, Any]:
    """The event stream's size and each consumer's position, lag, retries and dead letters
    (not a check: a lagging consumer catches up, it does not make Parley unavailable)."""
    from parley.core.stream.selectors import get_stream_status

    try:
        return get_stream_status().as_dict()
    except Exception as exc:  # the database check reports the cause
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
