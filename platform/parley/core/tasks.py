"""Diagnostics a worker can answer: what it runs on."""

from __future__ import annotations

import platform
import sys

from celery import shared_task
from django.core.cache import cache


@shared_task(name="parley.core.tasks.report_runtime")
def report_runtime(reply_key: str) -> None:
    """Write the worker's runtime facts to the cache under `reply_key` (no result backend)."""
    cache.set(
        reply_key,
        {
            "platform_module": platform.__file__,
            "system": platform.system(),
            "python": sys.version.split()[0],
        },
        timeout=300,
    )
