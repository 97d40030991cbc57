"""The nudge: once the relay has committed an envelope for a served business number, ask a
worker to pull it. Losable on purpose (an in-process listener): the periodic sweep pulls
whatever a lost nudge would have. Whether a number is served is remembered a few seconds
in each process (`selectors.SERVED`), forgotten at once when `do_enable_endpoint` changes
one in this process: a number served from another process is nudged within those seconds,
and swept until then.

The endpoints consumer reads number status changes from the durable stream: a number
registered for messaging gets its Signal endpoint, a deregistered one stops being served.
The quality consumer reads customers' blocks: what a number's quality rating follows."""

from __future__ import annotations

import logging

from django.db import transaction

from parley.core.events import BusinessBlocked, EnvelopeQueued, Event, NumberStatusChanged
from parley.core.publish import listen
from parley.core.stream.consumers import consumer
from parley.messaging import selectors

log = logging.getLogger(__name__)


@listen(EnvelopeQueued)
def nudge_endpoint(event: EnvelopeQueued) -> None:
    if not event.business_id:
        return  # a customer's handset: not ours
    from parley.messaging.work import request_receive

    if selectors.is_endpoint_served(event.recipient_e164, cache=selectors.SERVED):
        request_receive(event.recipient_e164)


@consumer("endpoints", events=(NumberStatusChanged,))
def serve_registered_numbers(event: Event, stream_id: int) -> None:
    assert isinstance(event, NumberStatusChanged)
    from parley.accounts.models import PhoneNumber
    from parley.messaging.actions import do_enable_endpoint
    from parley.messaging.tasks import provision_endpoint

    number = PhoneNumber.objects.filter(pk=event.number_id).first()
    if number is None:
        return
    if event.status == PhoneNumber.Status.CONNECTED:
        # Key generation and the relay's registration run in a task, not in the stream's
        # transaction; the task is idempotent, so a repeated event changes nothing.
        number_id = number.pk
        transaction.on_commit(lambda: provision_endpoint.delay(number_id))
    elif event.status == PhoneNumber.Status.DISCONNECTED:
        do_enable_endpoint(number, active=False)


@consumer("quality", events=(BusinessBlocked,))
def rate_quality_from_blocks(event: Event, stream_id: int) -> None:
    assert isinstance(event, BusinessBlocked)
    from parley.messaging.quality_actions import do_record_block

    do_record_block(event.number_e164, event.customer, event.occurred_at)
