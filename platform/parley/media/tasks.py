"""The 30-day purge of uploaded media: beat runs it, and so does every move of the
simulation clock (PARLEY["CLOCK_DUE_TASKS"])."""

from __future__ import annotations

from celery import shared_task

from parley.media.actions import do_purge_expired_media


@shared_task(name="parley.media.tasks.purge_expired_media")
def purge_expired_media() -> int:
    return do_purge_expired_media()
