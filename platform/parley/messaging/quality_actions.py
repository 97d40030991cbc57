"""Customers' blocks and the quality rating they earn a number (the rule is
parley.messaging.quality): a block lowers the rating at once when it crosses a threshold;
the periodic pass raises a rating the blocks lowered as they age out of the window."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from parley.accounts.actions.numbers import do_set_quality_rating
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging import quality
from parley.messaging.models import CustomerBlock, Message

ACTOR = "platform: customers' blocks"


def _earned(number: PhoneNumber, now: dt.datetime) -> str:
    since = now - quality.WINDOW
    blocked = (
        CustomerBlock.objects.filter(number=number, at__gt=since, at__lte=now)
        .values("customer")
        .distinct()
        .count()
    )
    reached = (
        Message.objects.filter(
            conversation__number=number,
            direction=Message.Direction.OUTBOUND,
            accepted_at__gt=since,
            accepted_at__lte=now,
        )
        .values("conversation__customer")
        .distinct()
        .count()
    )
    return quality.rating_from_blocks(blocked, reached, settings.PARLEY["QUALITY_BLOCKS"])


def do_record_block(number_e164: str, customer: str, at: dt.datetime) -> PhoneNumber | None:
    """A customer blocked the business after this number wrote to them: record it once and
    lower the number's rating if the blocks now earn a lower one."""
    number = PhoneNumber.objects.filter(e164=number_e164).select_related("business").first()
    if number is None:
        return None
    with transaction.atomic():
        CustomerBlock.objects.bulk_create(
            [CustomerBlock(number=number, customer=customer, at=at)], ignore_conflicts=True
        )
        earned = _earned(number, max(at, clock.now()))
        if quality.worse(earned, number.quality_rating):
            number = do_set_quality_rating(number.business, number.pk, rating=earned,
                                           actor_label=ACTOR, from_blocks=True)  # fmt: skip
    return number


def do_recover_quality(now: dt.datetime | None = None) -> int:
    """Raise the ratings blocks lowered, as far as the blocks still in the window allow.
    Idempotent; returns how many numbers rose."""
    now = now or clock.now()
    risen = 0
    for number in PhoneNumber.objects.filter(quality_from_blocks=True).select_related("business"):
        earned = _earned(number, now)
        if quality.worse(number.quality_rating, earned):
            do_set_quality_rating(number.business, number.pk, rating=earned,
                                  actor_label=ACTOR, from_blocks=True)  # fmt: skip
            risen += 1
    return risen
