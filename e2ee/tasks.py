"""Celery tasks of the e2ee glue: thin wrappers around actions."""

from __future__ import annotations

from celery import shared_task

from e2ee.health import do_compact_health_counters


@shared_task(name="e2ee.tasks.compact_health_counters")
def compact_health_counters() -> int:
    return do_compact_health_counters()
