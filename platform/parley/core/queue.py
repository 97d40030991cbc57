"""Handing work to a Celery worker by the task's registered name.

An action that queues a task after its commit would otherwise import the tasks module, which
imports the actions it runs: a circle. By name the action needs only the name; the worker runs
the task registered under it (tasks here carry no options of their own, so `send_task`
routes them as `.delay` would)."""

from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue(name: str, *args: Any) -> None:
    """Queue the task registered as `name` with `args`."""
    current_app.send_task(name, args=list(args))
