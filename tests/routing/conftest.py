"""Routing fixtures: a registered business number, staff who take conversations, and
customers who write in. Each customer message goes through the messaging action that the
business endpoint calls; `consume()` runs the routing consumer of the durable stream."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from parley.accounts.models import PhoneNumber, StaffUser
from parley.core import clock
from parley.core.stream.runner import run_consumers
from parley.messaging.actions import do_record_inbound_message
from parley.messaging.content import Text
from parley.messaging.models import Message
from routing import index
from routing.actions.agents import do_set_agent_status, do_update_agent
from routing.models import Agent

_numbers = itertools.count(1)
_customers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    index.forget()
    yield
    index.forget()


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Care", country="IN")
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+9198201{next(_numbers) % 100000:05d}",
        country="IN",
        display_name="Care",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


@pytest.fixture
def supervisor(factory: Any, number: PhoneNumber) -> StaffUser:
    return factory.staff(number.business, "supervisor")


class Team:
    """Makes agents of the number's business, available unless told otherwise."""

    def __init__(self, factory: Any, number: PhoneNumber, supervisor: StaffUser) -> None:
        self.factory, self.number, self.supervisor = factory, number, supervisor

    def agent(
        self,
        *,
        capacity: int = 15,
        skills: dict[str, int] | None = None,
        languages: list[str] | None = None,
        team: str = "",
        status: str = Agent.Status.AVAILABLE,
    ) -> StaffUser:
        user = self.factory.staff(self.number.business, "agent")
        do_update_agent(
            self.supervisor, user, capacity=capacity, skills=skills or {},
            languages=languages or ["en"], team=team,
        )  # fmt: skip
        do_set_agent_status(user, status)
        return user


@pytest.fixture
def team(factory: Any, number: PhoneNumber, supervisor: StaffUser) -> Team:
    return Team(factory, number, supervisor)


def new_customer() -> str:
    return f"+9198202{next(_customers) % 100000:05d}"


def write(number: PhoneNumber, customer: str | None = None, text: str = "Hello") -> Message:
    """A customer's message as the business endpoint records it after decrypting it."""
    return do_record_inbound_message(
        number, customer or new_customer(), Text(body=text), envelope_guid=str(uuid.uuid4())
    )


def consume() -> None:
    assert run_consumers(max_seconds=60, names=["routing"])


def agent_of(user: StaffUser) -> Agent:
    return Agent.objects.get(user=user)
