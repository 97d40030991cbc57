"""Celery tasks of messaging: thin wrappers around the endpoint service and the window
sweep. `parley.messaging.work` asks for them, at most one waiting task per number and kind."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from e2ee.client import RelayError
from parley.accounts.models import PhoneNumber
from parley.core.due import on_clock_moved
from parley.messaging import endpoint, selectors, work
from parley.messaging.actions import (
    do_close_windows,
    do_fail_message,
    do_upgrade_messaging_limits,
)

MAX_RETRIES = 8


@shared_task(name="parley.messaging.tasks.deliver_message", bind=True, max_retries=MAX_RETRIES)
def deliver_message(self: Any, message_id: int, e164: str = "") -> str:
    """Send a committed message with whatever else its number has waiting. When another
    worker holds the number's endpoint it sends them: this task returns at once."""
    if e164:
        work.started(e164, work.SEND)
    try:
        return endpoint.deliver(message_id, e164=e164, wait=0)
    except RelayError as exc:
        if self.request.retries >= MAX_RETRIES:
            do_fail_message(message_id, *endpoint.GAVE_UP)
            return "failed"
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


@shared_task(name="parley.messaging.tasks.pull_inbox")
def pull_inbox(e164: str) -> int:
    work.started(e164, work.RECEIVE)
    return endpoint.pull(e164)


@shared_task(name="parley.messaging.tasks.send_read_receipts", bind=True, max_retries=MAX_RETRIES)
def send_read_receipts(self: Any, e164: str, guids: list[str], typing: str | None = None) -> int:
    """Tell the customer's phone that the business read what these envelopes carried (and,
    with `typing`, that an answer is being written)."""
    try:
        return endpoint.send_read_receipts(e164, guids, typing)
    except RelayError as exc:
        if self.request.retries >= MAX_RETRIES:
            return 0
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc


@shared_task(bind=True, name="parley.messaging.tasks.provision_endpoint", max_retries=MAX_RETRIES)
def provision_endpoint(self: Any, number_id: int) -> bool:
    """A number registered for messaging gets its Signal endpoint (idempotent); one that was
    deregistered since gets none. Retried while the relay cannot be reached (a worker may
    start before the web server that serves it)."""
    number = PhoneNumber.objects.filter(pk=number_id).first()
    if number is None or number.status != PhoneNumber.Status.CONNECTED:
        return False
    try:
        endpoint.provision(number)
    except RelayError as exc:
        if self.request.retries >= MAX_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc
    return True


@shared_task(name="parley.messaging.tasks.sweep_inboxes")
def sweep_inboxes() -> int:
    """The periodic service of every served number (send what waits, pull what is queued),
    so nothing waits for a lost nudge or a worker that died holding an endpoint."""
    handled = 0
    for e164 in selectors.list_served_numbers():
        device = endpoint.business_device(e164)
        if device is None:
            continue
        try:
            sent, received = endpoint.service(device)
        except RelayError:
            continue  # the relay is away: the next sweep tries again
        endpoint.announce_identity_changes(device)
        handled += sent + received
    return handled


@shared_task(name="parley.messaging.tasks.close_windows")
@on_clock_moved  # a move of the simulation clock closes the windows that ended by then
def close_windows() -> int:
    return do_close_windows()


@shared_task(name="parley.messaging.tasks.upgrade_messaging_limits")
@on_clock_moved  # a move of the simulation clock upgrades what qualified by then
def upgrade_messaging_limits() -> int:
    """Messaging limits up, and quality ratings that customers' blocks lowered back up as
    the blocks age out."""
    from parley.messaging.quality_actions import do_recover_quality

    return do_upgrade_messaging_limits() + do_recover_quality()
