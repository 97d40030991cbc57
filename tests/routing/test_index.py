"""Each process's index of a business's agents follows the database: after claims,
releases, profile and status changes made through the actions (here or in another
process), the refreshed index equals one rebuilt from scratch."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from parley.accounts.models import PhoneNumber, StaffUser
from routing import index
from routing.actions.agents import do_set_agent_status, do_update_agent
from routing.actions.sessions import do_resolve_session
from routing.models import Agent, Session
from tests.routing.conftest import Team, consume, new_customer, write

pytestmark = pytest.mark.django_db


def snapshot(business_id: int) -> list[Any]:
    return index.index_for(business_id).agents()


def rebuilt(business_id: int) -> list[Any]:
    index.forget(business_id)
    return index.index_for(business_id).agents()


def test_the_refreshed_index_equals_a_rebuild(
    team: Team, number: PhoneNumber, supervisor: StaffUser
) -> None:
    alice = team.agent(capacity=3, skills={"billing": 2})
    bob = team.agent()
    chandra = team.agent(languages=["hi"])
    business_id = number.business_id
    before = snapshot(business_id)

    for _ in range(4):  # claims: loads and last assignments move
        write(number, new_customer(), "Hello")
    consume()
    resolved = Session.objects.filter(state=Session.State.OFFERED).first()
    assert resolved is not None
    do_resolve_session(supervisor, resolved.pk)  # a release
    do_update_agent(supervisor, alice, capacity=5, skills={"billing": 4},
                    languages=["en", "hi"], team="North")  # fmt: skip
    do_set_agent_status(bob, Agent.Status.AWAY)
    # A load written by another process (its write stamps the row; no hook here saw it).
    Agent.objects.filter(user=chandra).update(load=2, touched_at=timezone.now())

    refreshed = snapshot(business_id)
    assert refreshed != before
    assert refreshed == rebuilt(business_id)
    by_id = {a.agent_id: a for a in refreshed}
    assert by_id[Agent.objects.get(user=alice).pk].capacity == 5
    assert by_id[Agent.objects.get(user=bob).pk].available is False
    assert by_id[Agent.objects.get(user=chandra).pk].load == 2
