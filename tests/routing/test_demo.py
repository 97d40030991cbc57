"""The demo contact centre `make run` seeds: queues, SLA, agents ready to take
conversations; running it again changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from parley.accounts.actions.demo import do_seed_demo
from routing.models import Agent, CannedResponse, Queue, RoutingRule

pytestmark = pytest.mark.django_db


def test_the_demo_contact_centre_is_seeded_once(capsys: pytest.CaptureFixture[str]) -> None:
    seed = do_seed_demo()
    call_command("seed_routing_demo")
    first = capsys.readouterr().out
    assert "queue General" in first and "queue Billing" in first
    queues = {q.name: q for q in Queue.objects.filter(business=seed.business)}
    assert queues["General"].is_default and queues["General"].sla is not None
    assert queues["General"].sla.first_response_s == 30
    assert set(
        RoutingRule.objects.filter(queue=queues["Billing"]).values_list("value", flat=True)
    ) == {"invoice", "refund", "payment"}
    agent = Agent.objects.get(user__email="agent@demo.parley.test")
    assert (agent.capacity, agent.status, sorted(agent.languages)) == (
        15,
        "available",
        ["en", "hi"],
    )
    assert CannedResponse.objects.filter(business=seed.business).count() == 3
    call_command("seed_routing_demo")
    assert capsys.readouterr().out == ""
    assert Queue.objects.filter(business=seed.business).count() == 2
    assert Agent.objects.filter(business=seed.business).count() == 2
