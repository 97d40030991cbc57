"""The ``database`` section of bench/routing.py: routing end to end on the configured
database (PostgreSQL in the production path), through the real path: customers' messages
are recorded by messaging's action (which publishes ``message.received`` on the durable
stream), then the ``routing`` stream consumer opens a session for each, queues it and
offers it to an agent with the configured strategy (atomic claims in the database).

Setup (untimed): one business, one number, N agents (skills and languages as the memory
section draws them; capacities 10-20), and M customers' messages already in the stream.
Timed: the consumer, from its first batch until every event is consumed. Columns:
assignments/s (sessions offered / consumer wall time), p50/p99 ms of one routing decision
in the database (claim + offer, timed around each), and queries per assignment. The
baseline is the linear-scan strategy on the same agents and workload, in the same run."""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
import uuid
from typing import Any

SKILLS = ("billing", "refunds", "orders", "delivery", "returns", "technical")
LANGUAGES = ("en", "hi", "es")


@dataclasses.dataclass
class DatabaseRow:
    agents: int
    strategy: str
    assignments: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    queries_per_assignment: float


def _setup(n_agents: int, seed: int) -> tuple[Any, list[Any]]:
    """A business with `n_agents` available agents and its number (bulk-made: setup is not
    what is measured)."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from parley.accounts.models import Business, PhoneNumber, StaffUser
    from parley.core import clock
    from routing.actions.setup import do_save_queue, do_save_rule
    from routing.models import Agent, AgentSkill, Skill

    rng = random.Random(seed)
    now = clock.now()
    tag = uuid.uuid4().hex[:8]
    business = Business.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}", country="IN",
                                       created_at=now)  # fmt: skip
    number = PhoneNumber.objects.create(
        business=business, e164=f"+91982{int(tag, 16) % 10**7:07d}", country="IN",
        display_name="Bench", code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=now,
    )  # fmt: skip
    password = make_password(None)
    users = StaffUser.objects.bulk_create(
        StaffUser(email=f"a{i}@{tag}.bench", password=password, business=business,
                  full_name=f"Agent {i}", role="agent", created_at=now)
        for i in range(n_agents)
    )  # fmt: skip
    supervisor = StaffUser.objects.create(email=f"s@{tag}.bench", password=password,
                                          business=business, full_name="Sup", role="supervisor",
                                          created_at=now)  # fmt: skip
    skills = {name: Skill.objects.create(business=business, name=name) for name in SKILLS}
    agents = Agent.objects.bulk_create(
        Agent(user=u, business=business, capacity=rng.choice((10, 15, 15, 20)),
              languages=sorted({"en", *rng.sample(LANGUAGES, rng.randint(0, 1))}),
              status=Agent.Status.AVAILABLE, touched_at=timezone.now(), profile_at=timezone.now(),
              last_seen_at=now, last_active_at=now)
        for u in users
    )  # fmt: skip
    AgentSkill.objects.bulk_create(
        AgentSkill(agent=a, skill=skills[name], proficiency=rng.randint(1, 5))
        for a in agents
        for name in rng.sample(SKILLS, rng.randint(1, 3))
    )
    do_save_queue(supervisor, name="General", is_default=True)
    for i, name in enumerate(SKILLS[:3]):
        queue = do_save_queue(supervisor, name=name.title(), skills={name: 2}, priority=i)
        do_save_rule(supervisor, kind="keyword", value=name, queue_id=queue.pk)
    return number, agents


def _write(number: Any, messages: int, seed: int, *, phase: int = 0, first: int = 0) -> None:
    """Customers' messages, each from a new customer (numbered from `first` in `phase`)."""
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.content import Text

    rng = random.Random(seed + first)
    words = [*SKILLS[:3], "hello", "question", "help"]
    for i in range(first, first + messages):
        do_record_inbound_message(
            number,
            f"+9197{phase % 10}{i:07d}",
            Text(body=f"about {rng.choice(words)} please"),
            envelope_guid=str(uuid.uuid4()),
        )


def _steady(number: Any, rate: float, seconds: float) -> list[float]:
    """Customers write at `rate` a second for `seconds` while the consumer runs beside them
    (polling every 10 ms, as a woken worker would pick them up); returns each session's
    latency in ms, from the customer's message being recorded to the session's offer."""
    import threading

    from django.db import connections

    from parley.core.stream.runner import run_consumers
    from routing.models import Session

    stop = threading.Event()

    def consume() -> None:
        try:
            while not stop.is_set():
                run_consumers(max_seconds=5, names=["routing"])
                time.sleep(0.01)
            run_consumers(max_seconds=60, names=["routing"])
        finally:
            connections.close_all()

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        _write(number, 1, 0, phase=1, first=i)
    stop.set()
    consumer.join()
    return [
        (assigned - opened).total_seconds() * 1e3
        for opened, assigned in Session.objects.filter(
            business_id=number.business_id, assigned_at__isnull=False, state="offered"
        ).values_list("opened_at", "assigned_at")
        if assigned is not None
    ]


def run_database(
    n_agents: int, messages: int, strategy: str, seed: int, rate: float, seconds: float
) -> DatabaseRow:
    from django.conf import settings
    from django.db import connection, reset_queries

    from parley.core.stream.runner import run_consumers
    from routing import index
    from routing.models import Agent, Session

    settings.PARLEY["ROUTING_STRATEGY"] = strategy
    index.forget()
    number, agents = _setup(n_agents, seed)
    # Within capacity (80% of it), so every message can be offered at once.
    messages = min(messages, int(0.8 * sum(a.capacity for a in agents)))
    # Whatever the stream holds before this business's messages is consumed, untimed, and
    # the process's index of the agents is built (once per process, refreshed after).
    run_consumers(max_seconds=600, names=["routing"])
    index.index_for(number.business_id)
    _write(number, messages, seed)

    settings.DEBUG = True  # count queries
    reset_queries()
    try:
        started = time.perf_counter()
        assert run_consumers(max_seconds=600, names=["routing"])
        seconds_taken = time.perf_counter() - started
        queries = len(connection.queries)
    finally:
        settings.DEBUG = False
    offered = Session.objects.filter(
        business_id=number.business_id, state=Session.State.OFFERED
    ).count()
    # Then a steady arrival rate, from an empty contact centre, for the latency.
    Session.objects.filter(business_id=number.business_id).update(state="resolved")
    Agent.objects.filter(business_id=number.business_id).update(load=0)
    index.forget()
    index.index_for(number.business_id)
    latencies = sorted(_steady(number, rate, seconds)) or [0.0]
    return DatabaseRow(
        agents=n_agents,
        strategy=strategy,
        assignments=offered,
        seconds=seconds_taken,
        per_second=offered / seconds_taken if seconds_taken else 0.0,
        p50_ms=latencies[len(latencies) // 2],
        p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        queries_per_assignment=queries / max(1, offered),
    )


def section_database(args: argparse.Namespace) -> None:
    import os
    import sys

    from bench.bootstrap import setup_django

    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    counts = [int(n) for n in args.agents.split(",") if n.strip()]
    print(
        f"routing end to end on {connection.vendor} "
        f"({'configured' if 'DATABASE_URL' in os.environ else 'a fresh SQLite file'}): "
        f"{args.messages:,} customers' messages per run, then {args.rate:g}/s for "
        f"{args.steady_seconds:g} s for the latency, seed {args.seed}, "
        f"Python {sys.version.split()[0]}\n"
    )
    header = (
        f"{'agents':>7}  {'strategy':<13}{'assigned':>9}{'seconds':>9}{'assign/s':>10}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'queries':>9}"
    )
    print(header)
    print("-" * len(header))
    for n in counts:
        for strategy in ("least_loaded", "linear_scan"):
            row = run_database(
                n, args.messages, strategy, args.seed, args.rate, args.steady_seconds
            )
            print(
                f"{row.agents:>7,}  {row.strategy:<13}{row.assignments:>9,}{row.seconds:>9.2f}"
                f"{row.per_second:>10,.0f}{row.p50_ms:>9.2f}{row.p99_ms:>9.2f}"
                f"{row.queries_per_assignment:>9.1f}",
                flush=True,
            )
