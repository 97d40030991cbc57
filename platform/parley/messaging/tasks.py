"""Celery tasks of messaging: thin wrappers around the endpoint service and the window
sweep."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from e2ee.client import RelayError
from parley.core.due import on_clock_moved
from parley.messaging import endpoint, selectors
from parley.messaging.actions import do_close_windows, do_fail_message

MAX_RETRIES = 8


@shared_task(name="parley.messaging.tasks.deliver_message", bind=True, max_retries=MAX_RETRIES)
def deliver_message(self: Any, message_id: int) -> str:
    try:
        return endpoint.deliver(message_id)
    except (endpoint.EndpointBusy, RelayError) as exc:
        if self.request.retries >= MAX_RETRIES:
            do_fail_message(message_id, *endpoint.GAVE_UP)
            return "failed"
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


@shared_task(name="parley.messaging.tasks.pull_inbox")
def pull_inbox(e164: str) -> int:
    return endpoint.pull(e164)


@shared_task(name="parley.messaging.tasks.sweep_inboxes")
def sweep_inboxes() -> int:
    """The periodic pull of every served number, so nothing waits for a lost nudge."""
    handled = 0
    for e164 in selectors.list_served_numbers():
        try:
            handled += endpoint.pull(e164)
        except RelayError:
            continue  # the relay is away: the next sweep tries again
    return handled


@shared_task(name="parley.messaging.tasks.close_windows")
@on_clock_moved  # a move of the simulation clock closes the windows that ended by then
def close_windows() -> int:
    return do_close_windows()
