"""Key-agreement and decryption health counters, written on every decryption.

Each device's counters are spread over `SHARDS` rows: an increment upserts one row chosen at
random in a single statement (no read first), so concurrent decryptions for one busy number
rarely touch the same row, and never wait on one row for the whole number. Reads sum the
rows; `do_compact_health_counters` (beat, hourly) folds each device's rows back into one."""

from __future__ import annotations

import random

from django.db import connection, transaction
from django.db.models import Sum

from e2ee.client.state import Health
from e2ee.models import HealthCounter, LocalDevice
from parley.core import clock

SHARDS = 8
_FIELDS = ("key_agreements", "key_agreement_failures", "decryptions", "decryption_failures")


def do_count_health(
    device: LocalDevice,
    *,
    key_agreements: int = 0,
    key_agreement_failures: int = 0,
    decryptions: int = 0,
    decryption_failures: int = 0,
) -> None:
    counts = (key_agreements, key_agreement_failures, decryptions, decryption_failures)
    if not any(counts):
        return
    table = connection.ops.quote_name(HealthCounter._meta.db_table)
    adds = ", ".join(f"{f} = {table}.{f} + excluded.{f}" for f in _FIELDS)
    # One statement, on PostgreSQL and SQLite alike: insert the shard or add to it.
    sql = (
        f"INSERT INTO {table} (device_id, shard, business_id, {', '.join(_FIELDS)}, updated_at) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        f"ON CONFLICT (device_id, shard) DO UPDATE SET {adds}, updated_at = excluded.updated_at"
    )
    now = connection.ops.adapt_datetimefield_value(clock.now())
    params = [device.pk, random.randrange(SHARDS), device.business_id, *counts, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def get_device_health(device: LocalDevice) -> Health:
    totals = HealthCounter.objects.filter(device=device).aggregate(*(Sum(f) for f in _FIELDS))
    return Health(*(totals[f"{f}__sum"] or 0 for f in _FIELDS))


def do_compact_health_counters() -> int:
    """Fold every device's shards into its shard 0; returns how many rows went. The totals
    read before and after are the same (each device is folded under a lock of its rows)."""
    removed = 0
    devices = (
        HealthCounter.objects.filter(shard__gt=0).values_list("device_id", flat=True).distinct()
    )
    for device_id in list(devices):
        with transaction.atomic():
            rows = list(
                HealthCounter.objects.select_for_update()
                .filter(device_id=device_id)
                .order_by("shard")
            )
            if len(rows) < 2:
                continue
            keep, rest = rows[0], rows[1:]
            for field in _FIELDS:
                setattr(keep, field, sum(getattr(r, field) for r in rows))
            keep.updated_at = max(r.updated_at for r in rows)
            if keep.shard != 0:
                # Shard 0 is free (rows are ordered by shard); move the total there.
                HealthCounter.objects.filter(pk=keep.pk).update(shard=0)
                keep.shard = 0
            keep.save(update_fields=[*_FIELDS, "updated_at"])
            HealthCounter.objects.filter(pk__in=[r.pk for r in rest]).delete()
            removed += len(rest)
    return removed
