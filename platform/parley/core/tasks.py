"""The core's worker tasks: the event stream's runner and compaction, and diagnostics."""

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


@shared_task(name="parley.core.tasks.catch_up_clock")
def catch_up_clock(version: int) -> int:
    """After a move of the simulation clock: re-read it (this worker may not have heard the
    announcement yet), then run one pass of every due job. Returns how many failed."""
    from parley.core import clock
    from parley.core.due import run_due_jobs

    current = clock.current()
    if isinstance(current, clock.SharedClock):
        current.refresh()
    return sum(not r.ok for r in run_due_jobs())


@shared_task(name="parley.core.tasks.report_clock")
def report_clock(reply_key: str) -> None:
    """Write this worker's `clock.now()` to the cache under `reply_key` (diagnostics)."""
    from parley.core import clock

    cache.set(reply_key, clock.now().isoformat(), timeout=300)


@shared_task(name="parley.core.tasks.run_stream")
def run_stream() -> bool:
    """Move every stream consumer through the log (queued after commits and by the sweep)."""
    from parley.core.stream.runner import run_consumers
    from parley.core.stream.wake import clear_wake, wake_consumers

    clear_wake()
    done = run_consumers(shared_only=True)
    if not done:
        wake_consumers()  # the time budget ran out: another run continues
    return done


@shared_task(name="parley.core.tasks.sweep_stream")
def sweep_stream() -> bool:
    """The beat's safety net: due retries, and anything a lost wake left behind."""
    from parley.core.stream.runner import run_consumers

    return run_consumers(shared_only=True)


@shared_task(name="parley.core.tasks.compact_stream")
def compact_stream() -> int:
    from parley.core.stream.actions import do_compact_stream

    return do_compact_stream()
