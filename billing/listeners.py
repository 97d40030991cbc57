"""Billing listens to delivery outcomes; rating runs in a worker after the commit."""

from __future__ import annotations

from django.db import transaction
from parley.core.events import DeliveryRecorded
from parley.core.publish import listen

from billing.engine import (
    Channel,
    Content,
    Direction,
    MessageFact,
    Suggestions,
    WaCategory,
    normalise_category,
)


def fact_from_event(event: DeliveryRecorded) -> MessageFact:
    return MessageFact(
        message_id=event.message_id,
        business_id=str(event.business_id),
        agent_id=event.agent_id,
        agent_category=normalise_category(event.agent_category),
        customer=event.customer,
        direction=Direction(event.direction),
        content=Content(event.content),
        sent_at=event.sent_at,
        delivered_at=event.delivered_at,
        channel=Channel(event.channel),
        expired=event.expired,
        text_bytes=event.text_bytes,
        suggestions=Suggestions(event.suggestions),
        url_preview=event.url_preview,
        template_category=WaCategory(event.template_category) if event.template_category else None,
        size_bytes=event.size_bytes,
    )


@listen(DeliveryRecorded)
def record_delivery(event: DeliveryRecorded) -> None:
    from parley.accounts.models import Business

    from billing.actions import do_record_facts
    from billing.tasks import rate_customers

    business = Business.objects.get(pk=event.business_id)
    with transaction.atomic():
        do_record_facts(business, [fact_from_event(event)])
        transaction.on_commit(lambda: rate_customers.delay(business.pk, [event.customer]))
