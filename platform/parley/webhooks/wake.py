"""Waking the delivery worker: a Redis publish after a commit that made deliveries due. The
worker also wakes when the simulation clock moves, and polls as a fallback, so a lost wake
only delays a delivery."""

from __future__ import annotations

import logging

from django.conf import settings

from parley.core.stream.wake import redis_client

log = logging.getLogger(__name__)


def channel() -> str:
    return f"{settings.NAMESPACE}:webhooks:wake"


def wake_worker() -> None:
    try:
        redis_client().publish(channel(), b"1")
    except Exception:
        log.warning("could not wake the webhook delivery worker", exc_info=True)
