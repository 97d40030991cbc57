"""The jobs that moving the simulation clock runs at once: every periodic job that acts on
"everything due up to now" (windows closing, 30-day expiry, billing's finalisation, audit
retention). Beat runs them on its schedule; a clock move runs one pass of each, so what
became due by the jump happens now instead of at beat's next tick.

Jobs are named Celery tasks in `PARLEY["CLOCK_DUE_TASKS"]`, then functions registered with
`@on_clock_moved` (in an app's tasks module, which the worker imports). Each job is
idempotent and bounded by the clock, so one pass after a jump of any size is enough."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

Job = Callable[[], Any]
_registered: dict[str, Job] = {}


def on_clock_moved(fn: Job) -> Job:
    """Register `fn` (no arguments) to run after every move of the clock."""
    _registered[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return fn


def due_job_names() -> list[str]:
    return [*settings.PARLEY["CLOCK_DUE_TASKS"], *_registered]


@dataclasses.dataclass(frozen=True)
class JobResult:
    name: str
    ok: bool
    result: str


def run_due_jobs() -> list[JobResult]:
    """One pass of each due job in this process; a failing job is logged and reported and
    does not stop the others."""
    from parley.celery import app

    app.loader.import_default_modules()  # the apps' tasks modules register their jobs
    jobs: list[tuple[str, Job | None]] = [
        (name, app.tasks.get(name)) for name in settings.PARLEY["CLOCK_DUE_TASKS"]
    ]
    jobs += list(_registered.items())
    results = []
    for name, job in jobs:
        if job is None:
            results.append(JobResult(name, False, "no such task"))
            continue
        try:
            results.append(JobResult(name, True, repr(job())[:200]))
        except Exception as exc:
            log.exception("due job %s failed", name)
            results.append(JobResult(name, False, f"{type(exc).__name__}: {exc}"[:200]))
    return results
