"""Billing consumes delivery outcomes from the event stream; rating runs in a worker after
the commit. Facts are keyed by (business, message id): the same delivery handled twice
records one fact, and the stream saves the consumer's position in the same transaction."""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict

from django.db import transaction

from billing.engine import MessageFact
from billing.facts_io import fact_from_json
from parley.core.events import DeliveryRecorded
from parley.core.stream.consumers import Delivery, batch_consumer

log = logging.getLogger(__name__)


def _rate_after_commit(business_id: int, customers: list[str]) -> None:
    """Rate on another worker; with the broker unreachable, rate here rather than leave the
    recorded facts unrated (the stream has already moved past them)."""
    from billing.tasks import rate_customers

    try:
        rate_customers.delay(business_id, customers)
    except Exception:
        log.warning("billing: the broker refused the rating task; rating %d customer(s) here",
                    len(customers))  # fmt: skip
        rate_customers(business_id, customers)


def fact_from_event(event: DeliveryRecorded) -> MessageFact:
    # The event carries the same fields as a line of a facts file (its flat fields, without
    # dataclasses.asdict's deep copy: this runs once per delivery).
    return fact_from_json(
        {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}, event.business_id
    )


@batch_consumer("billing", events=(DeliveryRecorded,))
def record_deliveries(items: list[Delivery]) -> None:
    from billing.actions import do_record_facts
    from parley.accounts.models import Business

    facts: defaultdict[int, dict[str, MessageFact]] = defaultdict(dict)
    for item in items:
        event = item.event
        if not isinstance(event, DeliveryRecorded):
            continue
        # A later outcome of the same message in the batch wins, as it would one by one.
        facts[event.business_id][event.message_id] = fact_from_event(event)
    for business in Business.objects.filter(pk__in=list(facts)):
        batch = facts[business.pk]
        do_record_facts(business, batch.values())
        customers = sorted({f.customer for f in batch.values()})
        transaction.on_commit(
            lambda pk=business.pk, c=customers: _rate_after_commit(pk, c)  # type: ignore[misc]
        )
