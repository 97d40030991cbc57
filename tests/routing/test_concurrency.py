"""Several routers at once on PostgreSQL: customers write in bursts from several threads
(each with its own database connection) while each thread also routes, the routing
consumer runs and agents resolve conversations. At every moment a sampler looks, no
agent holds more sessions than their capacity; at the end every agent's load equals the
sessions they hold and no session was ever offered twice at once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections
from django.db.models import Count

from parley.core.stream.runner import run_consumers
from routing.actions.sessions import do_resolve_session, do_route_waiting
from routing.models import Agent, Session, SessionLog
from tests.routing.conftest import Team, new_customer, write

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (CI runs it)"
    ),
]

WRITERS = 4
PER_WRITER = 60
AGENTS = 12
CAPACITY = 3


def _held_over_capacity() -> list[tuple[int, int, int]]:
    """(agent, held sessions, capacity) for every agent holding more than capacity."""
    held = Counter(
        dict(
            Session.objects.filter(state__in=Session.HELD_STATES, agent__isnull=False)
            .values("agent_id")
            .annotate(n=Count("id"))
            .values_list("agent_id", "n")
        )
    )
    capacity = dict(Agent.objects.values_list("pk", "capacity"))
    return [(a, n, capacity[a]) for a, n in held.items() if n > capacity[a]]


def test_capacity_is_never_exceeded_under_concurrent_bursts(team: Team, number: Any) -> None:
    users = [team.agent(capacity=CAPACITY) for _ in range(AGENTS)]
    business_id = number.business_id
    errors: list[BaseException] = []
    violations: list[Any] = []
    done = threading.Event()

    def guarded(fn: Any) -> Any:
        def run(*args: Any) -> None:
            try:
                fn(*args)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)
            finally:
                connections.close_all()

        return run

    @guarded
    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for i in range(PER_WRITER):
            write(number, new_customer(), text=f"burst {seed}-{i}")
            if rng.random() < 0.3:
                run_consumers(max_seconds=5, names=["routing"])
            do_route_waiting(business_id)

    @guarded
    def resolver(seed: int) -> None:
        rng = random.Random(seed)
        while not done.is_set():
            held = list(
                Session.objects.filter(state__in=Session.HELD_STATES).values_list(
                    "pk", "agent__user_id"
                )[:20]
            )
            if held:
                pk, user_id = rng.choice(held)
                user = next(u for u in users if u.pk == user_id)
                do_resolve_session(user, pk)

    @guarded
    def sampler() -> None:
        while not done.is_set():
            found = _held_over_capacity()
            if found:
                violations.append(found)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(WRITERS)]
    helpers = [threading.Thread(target=resolver, args=(99,)), threading.Thread(target=sampler)]
    for t in threads + helpers:
        t.start()
    for t in threads:
        t.join(300)
    done.set()
    for t in helpers:
        t.join(60)
    assert not errors, errors
    assert run_consumers(max_seconds=60, names=["routing"])
    do_route_waiting(business_id)

    assert violations == []
    assert _held_over_capacity() == []
    sessions = Session.objects.filter(business_id=business_id)
    assert sessions.count() == WRITERS * PER_WRITER  # every message opened one session
    for agent in Agent.objects.filter(business_id=business_id):
        held = sessions.filter(agent=agent, state__in=Session.HELD_STATES).count()
        assert agent.load == held <= agent.capacity
    # Offered twice without being given back in between would mean a double assignment.
    for session_id in sessions.values_list("pk", flat=True):
        kinds = list(
            SessionLog.objects.filter(session_id=session_id)
            .order_by("id")
            .values_list("kind", flat=True)
        )
        holding = False
        for kind in kinds:
            if kind == "offered":
                assert not holding, (session_id, kinds)
                holding = True
            elif kind in ("returned", "resolved", "abandoned", "snoozed"):
                holding = False
    # With capacity freed all along, the burst was served: nothing waits while anyone is free.
    waiting = sessions.filter(state=Session.State.WAITING).count()
    free = sum(a.capacity - a.load for a in Agent.objects.filter(business_id=business_id))
    assert waiting == 0 or free == 0
