"""Routing's clock-driven work: beat runs the sweep every few seconds, and every move of
the simulation clock runs it at once (PARLEY["CLOCK_DUE_TASKS"])."""

from __future__ import annotations

import dataclasses

from celery import shared_task

from routing.actions.sweeps import do_sweep_routing


@shared_task(name="routing.tasks.sweep")
def sweep() -> dict[str, int]:
    return dataclasses.asdict(do_sweep_routing())
