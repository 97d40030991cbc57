"""The simulated review's periodic pass: beat runs it, and so does every move of the
simulation clock (parley.core.due), so a jump past the review delay approves at once."""

from __future__ import annotations

from celery import shared_task

from parley.core.due import on_clock_moved
from parley.message_templates.actions import do_approve_due_templates


@shared_task(name="parley.message_templates.tasks.approve_due_templates")
@on_clock_moved
def approve_due_templates() -> int:
    return do_approve_due_templates()
