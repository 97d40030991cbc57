"""Celery tasks of the relay: thin wrappers around the retention actions and the simulated
carrier's SMS delivery."""

from __future__ import annotations

import dataclasses

from celery import shared_task

from parley.relay.actions.retention import do_expire_envelopes, do_purge_metadata
from parley.relay.actions.verification import do_deliver_sms


@shared_task(name="parley.relay.tasks.expire_envelopes")
def expire_envelopes() -> int:
    return do_expire_envelopes()


@shared_task(name="parley.relay.tasks.purge_metadata")
def purge_metadata() -> dict[str, int]:
    return dataclasses.asdict(do_purge_metadata())


@shared_task(name="parley.relay.tasks.deliver_sms")
def deliver_sms(sms_id: int) -> bool:
    return do_deliver_sms(sms_id)
