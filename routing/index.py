"""Each process's in-memory view of a business's agents, for the assignment strategy.

The database is the truth: a claim is a conditional update there, so a stale index can only
choose a worse agent, never overload one. The index stays close to the truth by reading the
agents touched since it last looked (every write to an agent stamps `touched_at` with wall
time, and a change of status or profile `profile_at` too) before each round of decisions,
in full only those whose profile stamp is not the one it holds, and re-reads one agent
whose claim the database refused (they disagree). A full rebuild happens every
`FULL_REBUILD_S` seconds anyway."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time

from django.conf import settings
from django.db import connection
from django.db.models import Q
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
    # Agent id -> the `profile_at` stamp (µs since the epoch) of the state the strategy holds.
    profiles: dict[int, int | None]


_lock = threading.Lock()
_indexes: dict[int, _Index] = {}
# Agent id -> staff user id (fixed for an agent's life): whom an offer is addressed to.
_users: dict[int, int] = {}
_UNKNOWN = object()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_IDS_CHUNK = 900


def strategy_name() -> str:
    return str(settings.PARLEY.get("ROUTING_STRATEGY", "least_loaded"))


def _micros(stamp: dt.datetime | None) -> int | None:
    return None if stamp is None else (stamp - _EPOCH) // _MICROSECOND


def _states(business_id: int, ids: list[int] | None = None) -> list[tuple[AgentState, int | None]]:
    """The business's agents (those of `ids`), each with its `profile_at` stamp."""
    if ids is not None and len(ids) > _IDS_CHUNK:  # within SQLite's parameter limit
        return [row for i in range(0, len(ids), _IDS_CHUNK)
                for row in _states(business_id, ids[i : i + _IDS_CHUNK])]  # fmt: skip
    agents = Agent.objects.filter(business_id=business_id)
    if ids is None:
        skill_rows = AgentSkill.objects.filter(agent__business_id=business_id)
    else:
        agents = agents.filter(pk__in=ids)
        skill_rows = AgentSkill.objects.filter(agent_id__in=ids)
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
            "profile_at",
        )
    )
    skills: dict[int, dict[str, int]] = {row[0]: {} for row in rows}
    if rows:
        for agent_id, name, proficiency in skill_rows.values_list(
            "agent_id", "skill__name", "proficiency"
        ):
            found = skills.get(agent_id)
            if found is not None:  # an agent made after its row was read: read next time
                found[name] = proficiency
    available = Agent.Status.AVAILABLE
    out = []
    for pk, capacity, load, status, languages, last, active, user_id, profile in rows:
        _users[pk] = user_id
        state = AgentState(
            agent_id=pk,
            capacity=capacity,
            load=load,
            available=status == available and active,
            skills=skills[pk],
            languages=frozenset(languages or ()),
            last_assigned=last.timestamp() if last else 0.0,
        )
        out.append((state, _micros(profile)))
    return out


# The agents changed since a time: id, load, last assignment and profile stamp in µs since
# the epoch. Thousands of rows a round at scale: integers read several times faster than
# timestamps.
_CHANGED_SQL = """
SELECT id, load, (extract(epoch FROM last_assigned_at) * 1000000)::int8,
       (extract(epoch FROM profile_at) * 1000000)::int8
FROM routing_agent WHERE business_id = %s AND (touched_at >= %s OR profile_at >= %s)"""


def _changed(business_id: int, since: dt.datetime) -> list[tuple[int, int, int | None, int | None]]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CHANGED_SQL, [business_id, since, since])
            return cursor.fetchall()
    rows = Agent.objects.filter(business_id=business_id).filter(
        Q(touched_at__gte=since) | Q(profile_at__gte=since)
    )
    return [
        (pk, load, _micros(last), _micros(profile))
        for pk, load, last, profile in rows.values_list(
            "pk", "load", "last_assigned_at", "profile_at"
        )
    ]


def _build(business_id: int) -> _Index:
    now = timezone.now()
    strategy = make_strategy(strategy_name())
    profiles: dict[int, int | None] = {}
    for state, profile in _states(business_id):
        strategy.upsert(state)
        profiles[state.agent_id] = profile
    return _Index(strategy, strategy_name(), now - OVERLAP, time.monotonic(), profiles)


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
        profiles = found.profiles
        # One light read of the agents changed since: a profile stamp other than the one
        # the index holds (a status or profile change, or an agent new to it) takes the
        # whole state; otherwise only the load moved (a claim or a release, often this
        # process's own, already applied) and is set if it differs.
        stale: list[int] = []
        for pk, load, last, profile in _changed(business_id, since):
            if profiles.get(pk, _UNKNOWN) != profile or not strategy.set_load(
                pk, load, 0.0 if last is None else last / 1_000_000
            ):
                stale.append(pk)
        if stale:
            for state, profile in _states(business_id, stale):
                strategy.upsert(state)
                profiles[state.agent_id] = profile
        found.seen_until = now - OVERLAP
        return strategy


def reread_agent(business_id: int, agent_id: int) -> None:
    """The database refused a claim the index expected to succeed: take the agent's row."""
    with _lock:
        found = _indexes.get(business_id)
        if found is None:
            return
        rows = _states(business_id, [agent_id])
        if rows:
            state, profile = rows[0]
            found.strategy.upsert(state)
            found.profiles[agent_id] = profile
        else:
            found.strategy.remove(agent_id)
            found.profiles.pop(agent_id, None)


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
