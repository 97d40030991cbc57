"""A number's quality rating follows its customers' blocks (parley.messaging.quality): a
block lowers it once the thresholds are crossed, the rating rises again as the blocks age
out of the 7-day window, and a rating set by hand stays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parley.accounts.actions.numbers import do_set_quality_rating
from parley.accounts.models import PhoneNumber
from parley.accounts.models.audit import AuditEntry
from parley.core.events import NumberQualityChanged
from parley.core.models import StreamEntry
from parley.messaging import actions, quality
from parley.messaging.content import Text
from parley.messaging.quality_actions import do_record_block, do_recover_quality

THRESHOLDS = {"YELLOW": (2, 0.02), "RED": (5, 0.05)}


@pytest.mark.parametrize(
    ("blocked", "reached", "rating"),
    [
        (0, 100, "GREEN"),
        (1, 10, "GREEN"),  # one block is never enough
        (2, 100, "YELLOW"),  # 2 %
        (2, 101, "GREEN"),  # just under 2 %
        (4, 10, "YELLOW"),  # many, but fewer than RED's count
        (5, 100, "RED"),
        (5, 200, "YELLOW"),  # 2.5 %: not RED's share
        (3, 0, "YELLOW"),  # blocks from customers no longer counted as reached
    ],
)
def test_the_rating_blocks_earn(blocked: int, reached: int, rating: str) -> None:
    assert quality.rating_from_blocks(blocked, reached, THRESHOLDS) == rating


def reach(number: PhoneNumber, customers: list[str]) -> None:
    for customer in customers:
        actions.do_send_message(number, customer, Text("Your order shipped"), deliver=False)


def customers(n: int) -> list[str]:
    return [f"+91982001{i:04d}" for i in range(n)]


def quality_changes() -> list[tuple[str, str, str]]:
    rows = StreamEntry.objects.filter(name=NumberQualityChanged.name).order_by("id")
    return [(r.payload["previous_quality_rating"], r.payload["quality_rating"],
             r.payload["event"]) for r in rows]  # fmt: skip


@pytest.mark.django_db
def test_blocks_lower_the_rating_and_it_rises_again_as_they_age_out(
    number: PhoneNumber, frozen_clock: Any
) -> None:
    reached = customers(40)
    reach(number, reached)
    start = frozen_clock.now()
    do_record_block(number.e164, reached[0], start)
    number.refresh_from_db()
    assert number.quality_rating == "GREEN"  # one customer in forty
    for customer in reached[1:5]:
        do_record_block(number.e164, customer, start)
    do_record_block(number.e164, reached[4], start)  # the same block again: counted once
    number.refresh_from_db()
    assert (number.quality_rating, number.quality_from_blocks) == ("RED", True)
    assert quality_changes() == [("GREEN", "YELLOW", ""), ("YELLOW", "RED", "FLAGGED")]
    audit = AuditEntry.objects.filter(action="number.quality_changed").order_by("id")
    assert {a.actor_label for a in audit} == {"platform: customers' blocks"}

    frozen_clock.advance(days=3)
    assert do_recover_quality() == 0  # still inside the window
    frozen_clock.advance(days=4, seconds=1)  # the blocks are older than 7 days
    assert do_recover_quality() == 1
    number.refresh_from_db()
    assert number.quality_rating == "GREEN"
    assert quality_changes()[-1] == ("RED", "GREEN", "UNFLAGGED")
    assert do_recover_quality() == 0  # idempotent


@pytest.mark.django_db
def test_a_rating_set_by_hand_stays_and_an_unknown_number_is_ignored(
    number: PhoneNumber, frozen_clock: Any
) -> None:
    reached = customers(4)
    reach(number, reached)
    for customer in reached[:2]:
        do_record_block(number.e164, customer, frozen_clock.now())
    number.refresh_from_db()
    assert number.quality_rating == "YELLOW"
    do_set_quality_rating(number.business, number.pk, rating="RED")  # the developer's say
    frozen_clock.advance(days=8)
    assert do_recover_quality() == 0
    number.refresh_from_db()
    assert (number.quality_rating, number.quality_from_blocks) == ("RED", False)
    # Blocks never raise a rating, and a number nobody knows is left alone.
    assert do_record_block(number.e164, reached[3], frozen_clock.now()) is not None
    number.refresh_from_db()
    assert number.quality_rating == "RED"
    assert do_record_block("+14155550000", reached[0], frozen_clock.now()) is None


@pytest.mark.django_db
def test_the_settings_hold_the_thresholds(settings: Any, number: PhoneNumber,
                                          frozen_clock: Any) -> None:  # fmt: skip
    settings.PARLEY = {**settings.PARLEY, "QUALITY_BLOCKS": {"YELLOW": (1, 0.5),
                                                             "RED": (9, 0.9)}}  # fmt: skip
    reached = customers(2)
    reach(number, reached)
    do_record_block(number.e164, reached[0], frozen_clock.now())
    number.refresh_from_db()
    assert number.quality_rating == "YELLOW"
    assert dt.timedelta(days=7) == quality.WINDOW
