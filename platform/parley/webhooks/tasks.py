"""The delivery log's retention: beat runs the purge, and so does every move of the
simulation clock (PARLEY["CLOCK_DUE_TASKS"])."""

from __future__ import annotations

from celery import shared_task

from parley.webhooks.actions.deliveries import do_purge_delivery_log


@shared_task(name="parley.webhooks.tasks.purge_delivery_log")
def purge_delivery_log() -> int:
    return do_purge_delivery_log()
