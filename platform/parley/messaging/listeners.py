"""The nudge: once the relay has committed an envelope for a served business number, ask a
worker to pull it. Losable on purpose (an in-process listener): the periodic sweep pulls
whatever a lost nudge would have."""

from __future__ import annotations

import logging

from parley.core.events import EnvelopeQueued
from parley.core.publish import listen

log = logging.getLogger(__name__)


@listen(EnvelopeQueued)
def nudge_endpoint(event: EnvelopeQueued) -> None:
    if not event.business_id:
        return  # a customer's handset: not ours
    from parley.messaging import selectors
    from parley.messaging.tasks import request_receive

    if selectors.is_endpoint_served(event.recipient_e164):
        request_receive(event.recipient_e164)
