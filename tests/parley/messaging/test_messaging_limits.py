"""Messaging limits (unique customers a business reaches with business-initiated messages in
a moving 24 h), the per-user marketing limit (131049), their upgrades and the quality
rating, on the simulation clock. Sends go through the business endpoint in this process
(`endpoint.service`), to customers' handsets registered with the relay in-process; the
limits are kept small through settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from e2ee.actions import do_create_device
from e2ee.client import SignalClient
from parley.accounts.actions.numbers import do_set_messaging_limit, do_set_quality_rating
from parley.accounts.models import AuditEntry, Business, PhoneNumber
from parley.core import clock
from parley.core.due import due_job_names
from parley.core.models import StreamEntry
from parley.messaging import endpoint
from parley.messaging.actions import do_admit_sends, do_send_message
from parley.messaging.content import Template
from parley.messaging.models import Message
from parley.messaging.tasks import upgrade_messaging_limits
from tests.e2ee.conftest import new_business_number, new_handset_number
from tests.parley.windows import customer_wrote

# The relay's in-process requests end as requests do (closing the connection), and the
# simulated carrier (a Celery worker) texts the customers' phones their registration codes.
pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"TIER_250": 3, "TIER_2K": 10, "TIER_10K": 20, "TIER_100K": 40, "TIER_UNLIMITED": None}


@pytest.fixture
def small_limits(settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "MESSAGING_LIMITS": SMALL,
                       "MARKETING_PER_USER_LIMIT": 2}  # fmt: skip


def handset() -> SignalClient:
    """A customer's phone, registered with the relay (in this process)."""
    client = endpoint.endpoint_client(do_create_device(new_handset_number()))
    client.register()
    return client


@contextmanager
def frozen() -> Iterator[clock.FrozenClock]:
    """The simulation clock, frozen from now on (after the phones registered)."""
    with clock.frozen(clock.now()) as c:
        yield c


def template(category: str = "utility", name: str = "order_update") -> Template:
    return Template(name, "en_US", category, body=f"{name} ({category})")


def send(number: PhoneNumber, customer: str, category: str = "utility") -> Message:
    return do_send_message(number, customer, template(category), deliver=False)


def go(number: PhoneNumber, *messages: Message) -> list[tuple[str, int | None]]:
    """Run the number's endpoint (the worker's send) and return each message's outcome."""
    endpoint.service(number.e164, receive=False)
    outcome = []
    for message in messages:
        message.refresh_from_db()
        outcome.append((message.status, message.error_code))
    return outcome


def other_number(factory: Any, name: str = "Other") -> PhoneNumber:
    business = factory.business(name, country="US")
    return PhoneNumber.objects.create(
        business=business, e164=new_business_number(), country="US", display_name=name,
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip


SENT = ("sent", None)


def test_the_tier_limit_counts_unique_customers_over_a_moving_24_hours(
    number: PhoneNumber, celery_worker: None, small_limits: None
) -> None:
    endpoint.provision(number)
    phones = [handset().e164 for _ in range(5)]
    with frozen() as frozen_clock:
        first = [send(number, c) for c in phones[:3]]
        assert go(number, *first) == [SENT] * 3
        frozen_clock.advance(hours=1)
        # The limit (3) is reached: a customer already reached costs nothing, a new one
        # fails asynchronously with 131048 (the send was accepted).
        again, fourth = send(number, phones[0]), send(number, phones[3])
        assert fourth.status == "accepted"
        assert go(number, again, fourth) == [SENT, ("failed", 131048)]
        fourth.refresh_from_db()
        assert "messaging limit, TIER_250: 3 unique customers" in fourth.error_title
        failed = StreamEntry.objects.filter(name="message.status_changed",
                                            payload__message_id=fourth.wamid,
                                            payload__status="failed").get()  # fmt: skip
        assert failed.payload["error_code"] == 131048
        # A customer inside an open service window does not count (nor is refused).
        customer_wrote(number, phones[4])
        assert go(number, send(number, phones[4])) == [SENT]
        # 24 h after the first three the budget is back, not a minute before.
        frozen_clock.advance(hours=22, minutes=59)
        assert go(number, send(number, phones[3])) == [("failed", 131048)]
        frozen_clock.advance(minutes=2)
        assert go(number, send(number, phones[3])) == [SENT]


def test_the_limit_is_the_portfolios_and_follows_its_tier(
    number: PhoneNumber, celery_worker: None, small_limits: None
) -> None:
    """All the business's numbers share one budget; a higher tier gives more room."""
    second = PhoneNumber.objects.create(
        business=number.business, e164=new_business_number(), country="US", display_name="Shop 2",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    endpoint.provision(number)
    endpoint.provision(second)
    phones = [handset().e164 for _ in range(5)]
    with frozen():
        assert go(number, *[send(number, c) for c in phones[:3]]) == [SENT] * 3
        assert go(second, send(second, phones[3])) == [("failed", 131048)]
        assert go(second, send(second, phones[0])) == [SENT]  # reached by the other number
        do_set_messaging_limit(number.business, tier="TIER_2K")
        assert go(second, send(second, phones[3]), send(second, phones[4])) == [SENT, SENT]


def test_a_message_the_relay_refuses_gives_its_customer_back(
    number: PhoneNumber, celery_worker: None, small_limits: None
) -> None:
    endpoint.provision(number)
    phones = [handset().e164 for _ in range(3)]
    with frozen():
        strangers = [new_handset_number() for _ in range(3)]  # not on the platform
        assert go(number, *[send(number, c) for c in strangers]) == [("failed", 131026)] * 3
        assert go(number, *[send(number, c) for c in phones]) == [SENT] * 3


def test_the_marketing_limit_per_customer_is_131049_across_businesses(
    number: PhoneNumber, factory: Any, celery_worker: None, small_limits: None
) -> None:
    other = other_number(factory)
    endpoint.provision(number)
    endpoint.provision(other)
    ana = handset().e164
    with frozen() as frozen_clock:
        assert go(number, send(number, ana, "marketing")) == [SENT]
        frozen_clock.advance(hours=2)
        assert go(other, send(other, ana, "marketing")) == [SENT]
        frozen_clock.advance(hours=2)
        third = send(number, ana, "marketing")
        assert go(number, third) == [("failed", 131049)]
        third.refresh_from_db()
        assert third.error_title.startswith(
            "This message was not delivered to maintain healthy ecosystem engagement"
        )
        # Utility templates are not marketing: they go.
        assert go(number, send(number, ana, "utility")) == [SENT]
        # Inside an open window a marketing template is not limited.
        customer_wrote(other, ana)
        assert go(other, send(other, ana, "marketing")) == [SENT]
        # 24 h after the first, one marketing message is free again (the second counts).
        frozen_clock.advance(hours=20, seconds=1)
        assert go(number, send(number, ana, "marketing")) == [SENT]
        assert go(number, send(number, ana, "marketing")) == [("failed", 131049)]


def test_the_marketing_limit_is_a_setting(
    number: PhoneNumber, frozen_clock: Any, settings: Any
) -> None:
    settings.PARLEY = {**settings.PARLEY, "MARKETING_PER_USER_LIMIT": 1}
    customer = new_handset_number()
    messages = [send(number, customer, "marketing") for _ in range(2)]
    # No relay involved: the admission itself decides, in order.
    assert do_admit_sends(messages) == {messages[1].pk}
    messages[1].refresh_from_db()
    assert (messages[1].status, messages[1].error_code) == ("failed", 131049)
    assert do_admit_sends(messages[:1]) == set()  # admitted once, counted once


def test_the_upgrade_job_moves_a_portfolio_up_as_meta_describes(
    number: PhoneNumber, frozen_clock: Any, small_limits: None
) -> None:
    assert "parley.messaging.tasks.upgrade_messaging_limits" in due_job_names()

    def reach(count: int) -> None:
        do_admit_sends([send(number, new_handset_number()) for _ in range(count)])

    business = number.business
    reach(1)  # 1 of 3: less than half
    assert upgrade_messaging_limits() == 0
    reach(1)  # 2 ≥ 3 / 2
    assert upgrade_messaging_limits() == 1
    business.refresh_from_db()
    assert business.messaging_limit_tier == "TIER_2K"
    entry = AuditEntry.objects.get(action="business.messaging_limit_changed")
    assert entry.actor_label == "platform"
    assert entry.details["tier"] == "TIER_2K" and entry.details["previous"] == "TIER_250"
    assert upgrade_messaging_limits() == 0  # 2 of 10 in 7 days: not yet

    # A RED number holds the portfolio where it is.
    frozen_clock.advance(days=1)
    reach(3)  # 5 unique customers in 7 days ≥ 10 / 2
    do_set_quality_rating(business, number.pk, rating="RED")
    assert upgrade_messaging_limits() == 0
    do_set_quality_rating(business, number.pk, rating="YELLOW")
    assert upgrade_messaging_limits() == 1
    business.refresh_from_db()
    assert business.messaging_limit_tier == "TIER_10K"

    # What was reached more than 7 days ago no longer counts.
    frozen_clock.advance(days=8)
    reach(9)  # 9 < 20 / 2
    assert upgrade_messaging_limits() == 0
    reach(1)
    assert upgrade_messaging_limits() == 1
    business.refresh_from_db()
    assert business.messaging_limit_tier == "TIER_100K"
    assert AuditEntry.objects.filter(action="business.messaging_limit_changed").count() == 3


def test_quality_changes_are_events_and_audited(number: PhoneNumber) -> None:
    business = number.business

    def events() -> list[dict[str, Any]]:
        return [e.payload for e in StreamEntry.objects.filter(name="number.quality_changed")
                .order_by("id")]  # fmt: skip

    do_set_quality_rating(business, number.pk, rating="YELLOW")
    do_set_quality_rating(business, number.pk, rating="YELLOW")  # no change, no event
    do_set_quality_rating(business, number.pk, rating="RED")
    do_set_quality_rating(business, number.pk, rating="GREEN")
    seen = [(e["previous_quality_rating"], e["quality_rating"], e["event"]) for e in events()]
    assert seen == [("GREEN", "YELLOW", ""), ("YELLOW", "RED", "FLAGGED"),
                    ("RED", "GREEN", "UNFLAGGED")]  # fmt: skip
    assert {e["number_id"] for e in events()} == {number.pk}
    assert {e["current_limit"] for e in events()} == {"TIER_250"}
    entry = StreamEntry.objects.filter(name="number.quality_changed").first()
    assert entry is not None and entry.business_id == business.pk
    assert AuditEntry.objects.filter(action="number.quality_changed").count() == 3
    number.refresh_from_db()
    assert number.quality_rating == "GREEN"
    with pytest.raises(Exception, match="rating must be one of"):
        do_set_quality_rating(business, number.pk, rating="PURPLE")
    with pytest.raises(Exception, match="tier must be one of"):
        do_set_messaging_limit(business, tier="TIER_5")
    assert Business.objects.get(pk=business.pk).messaging_limit_tier == "TIER_250"
