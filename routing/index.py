"""Each process's in-memory view of a business's agents, for the assignment strategy.

The database is the truth: a claim is a conditional update there, so a stale index can only
choose a worse agent, never overload one. The index stays close to the truth by reading the
agents touched since it last looked (every write to an agent stamps `touched_at` with wall
time) before each round of decisions, and re-reads one agent whose claim the database
refused (they disagree). A full rebuild happens every `FULL_REBUILD_S` seconds anyway."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

from django.conf import settings
from django.utils import timezone

from routing.models import Agent, AgentSkill
from routing.strategy import AgentState, Strategy, make_strategy

FULL_REBUILD_S = 300.0
# Writes committed a little after their touched_at stamp must still be seen.
OVERLAP = dt.timedelta(seconds=5)


@dataclasses.dataclass
class _Index:
    strategy: Strategy
    name: str
    seen_until: dt.datetime
    built_at: float


_lock = threading.Lock()
_indexes: dict[int, _Index] = {}
# Agent id -> staff user id (fixed for an agent's life): whom an offer is addressed to.
_users: dict[int, int] = {}


def strategy_name() -> str:
    return str(settings.PARLEY.get("ROUTING_STRATEGY", "least_loaded"))


def _states(
    business_id: int,
    since: dt.datetime | None = None,
    agent_id: int | None = None,
    field: str = "touched_at",
) -> list[AgentState]:
    """The business's agents, those whose `field` stamp is since `since`, or one."""
    agents = Agent.objects.filter(business_id=business_id)
    if since is not None:
        agents = agents.filter(**{f"{field}__gte": since})
    if agent_id is not None:
        agents = agents.filter(pk=agent_id)
    rows = list(
        agents.values_list(
            "pk",
            "capacity",
            "load",
            "status",
            "languages",
            "last_assigned_at",
            "user__is_active",
            "user_id",
        )
    )
    for pk, *_, user_id in rows:
        _users[pk] = user_id
    skills: dict[int, dict[str, int]] = {pk: {} for pk, *_ in rows}
    if rows:
        for agent_id, name, proficiency in AgentSkill.objects.filter(
            agent_id__in=list(skills)
        ).values_list("agent_id", "skill__name", "proficiency"):
            skills[agent_id][name] = proficiency
    return [
        AgentState(
            agent_id=pk,
            capacity=capacity,
            load=load,
            available=status == Agent.Status.AVAILABLE and active,
            skills=skills[pk],
            languages=frozenset(languages or ()),
            last_assigned=last.timestamp() if last else 0.0,
        )
        for pk, capacity, load, status, languages, last, active, _ in rows
    ]


def _build(business_id: int) -> _Index:
    now = timezone.now()
    strategy = make_strategy(strategy_name())
    for state in _states(business_id):
        strategy.upsert(state)
    return _Index(strategy, strategy_name(), now - OVERLAP, time.monotonic())


def index_for(business_id: int) -> Strategy:
    """The business's index, brought up to date with the agents changed since last time."""
    with _lock:
        found = _indexes.get(business_id)
        if (
            found is None
            or found.name != strategy_name()
            or time.monotonic() - found.built_at > FULL_REBUILD_S
        ):
            found = _indexes[business_id] = _build(business_id)
            return found.strategy
        now = timezone.now()
        since = found.seen_until
        strategy = found.strategy
        # A changed status or profile: the whole state. Otherwise only the load moved (a
        # claim or a release, often this process's own, already applied): compare it.
        profiled = set()
        for state in _states(business_id, since=since, field="profile_at"):
            strategy.upsert(state)
            profiled.add(state.agent_id)
        loads = Agent.objects.filter(business_id=business_id, touched_at__gte=since)
        for pk, load, last in loads.values_list("pk", "load", "last_assigned_at"):
            if pk in profiled:
                continue
            known = strategy.get(pk)
            if known is None:
                for state in _states(business_id, agent_id=pk):
                    strategy.upsert(state)
                continue
            stamp = last.timestamp() if last else 0.0
            if known.load != load or known.last_assigned != stamp:
                known.load, known.last_assigned = load, stamp
                strategy.upsert(known)
        found.seen_until = now - OVERLAP
        return strategy


def reread_agent(business_id: int, agent_id: int) -> None:
    """The database refused a claim the index expected to succeed: take the agent's row."""
    with _lock:
        found = _indexes.get(business_id)
        if found is None:
            return
        rows = _states(business_id, agent_id=agent_id)
        if rows:
            found.strategy.upsert(rows[0])
        else:
            found.strategy.remove(agent_id)


def forget(business_id: int | None = None) -> None:
    """Drop the cached index (all of them without an id): the next use rebuilds it."""
    with _lock:
        _users.clear()
        if business_id is None:
            _indexes.clear()
        else:
            _indexes.pop(business_id, None)


def user_of(agent_id: int | None) -> int | None:
    """The staff user of an agent."""
    if agent_id is None:
        return None
    found = _users.get(agent_id)
    if found is None:
        found = Agent.objects.filter(pk=agent_id).values_list("user_id", flat=True).first()
        if found is not None:
            _users[agent_id] = found
    return found
