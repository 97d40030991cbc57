"""Billing listens to delivery outcomes; rating runs in a worker after the commit."""

from __future__ import annotations

import dataclasses

from django.db import transaction

from billing.engine import MessageFact
from billing.facts_io import fact_from_json
from parley.core.events import DeliveryRecorded
from parley.core.publish import listen


def fact_from_event(event: DeliveryRecorded) -> MessageFact:
    # The event carries the same fields as a line of a facts file.
    return fact_from_json(dataclasses.asdict(event), event.business_id)


@listen(DeliveryRecorded)
def record_delivery(event: DeliveryRecorded) -> None:
    from billing.actions import do_record_facts
    from billing.tasks import rate_customers
    from parley.accounts.models import Business

    business = Business.objects.get(pk=event.business_id)
    with transaction.atomic():
        do_record_facts(business, [fact_from_event(event)])
        transaction.on_commit(lambda: rate_customers.delay(business.pk, [event.customer]))
