"""Reads for the agents' workspace and the supervisors' views: who holds what, live queue
statistics and service levels, all on the simulation clock. No side effects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import defaultdict

from django.db.models import Q, QuerySet

from parley.accounts.models import Business, StaffUser
from parley.core import clock
from routing.actions.agents import idle_after, offline_after
from routing.actions.sessions import queue_requirements
from routing.models import (
    Agent,
    AgentSkill,
    CannedResponse,
    Queue,
    RoutingRule,
    Session,
    SlaBreach,
    SlaPolicy,
)
from routing.strategy import AgentState, Requirement

DAY = dt.timedelta(hours=24)


def get_agent(user: StaffUser) -> Agent | None:
    return Agent.objects.filter(user=user).first()


def list_agents(business: Business | int) -> QuerySet[Agent]:
    return (
        Agent.objects.filter(business=business, user__is_active=True)
        .select_related("user")
        .order_by("user__full_name", "pk")
    )


def list_queues(business: Business | int) -> QuerySet[Queue]:
    return Queue.objects.filter(business=business).select_related("sla")


def list_sla_policies(business: Business | int) -> QuerySet[SlaPolicy]:
    return SlaPolicy.objects.filter(business=business)


def get_session(business: Business | int, session_id: int) -> Session | None:
    return (
        Session.objects.filter(business=business, pk=session_id)
        .select_related("conversation", "queue", "agent__user")
        .first()
    )


def get_open_session(conversation_id: int) -> Session | None:
    return (
        Session.objects.filter(conversation_id=conversation_id, state__in=Session.OPEN_STATES)
        .select_related("queue", "agent__user")
        .first()
    )


def list_sessions(user: StaffUser, scope: str) -> QuerySet[Session]:
    """The workspace's lists: `mine` (the user's open sessions), `unassigned` (waiting) or
    `all` (every open session: supervisors; an agent sees theirs and the waiting ones)."""
    from parley.accounts.roles import Capability

    rows = Session.objects.filter(business_id=user.business_id, state__in=Session.OPEN_STATES)
    if scope == "mine":
        rows = rows.filter(agent__user=user)
    elif scope == "unassigned":
        rows = rows.filter(state=Session.State.WAITING)
    elif not user.can(Capability.SUPERVISE_QUEUES):
        rows = rows.filter(Q(agent__user=user) | Q(state=Session.State.WAITING))
    return rows.select_related("conversation", "queue", "agent__user").order_by(
        "-priority", "opened_at", "pk"
    )


def list_past_sessions(conversation_id: int, limit: int = 20) -> list[Session]:
    return list(
        Session.objects.filter(conversation_id=conversation_id)
        .exclude(state__in=Session.OPEN_STATES)
        .select_related("queue", "agent__user")
        .order_by("-opened_at")[:limit]
    )


def presence_of(agent: Agent, now: dt.datetime | None = None) -> str:
    """online, idle (no activity past the idle bound) or offline (no heartbeat)."""
    now = now or clock.now()
    if agent.last_seen_at is None or agent.last_seen_at < now - offline_after():
        return "offline"
    if agent.last_active_at is None or agent.last_active_at < now - idle_after():
        return "idle"
    return "online"


def _agent_states(business_id: int) -> list[tuple[Agent, AgentState]]:
    agents = list(list_agents(business_id))
    skills: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, name, level in AgentSkill.objects.filter(
        agent__business_id=business_id
    ).values_list("agent_id", "skill__name", "proficiency"):
        skills[agent_id][name] = level
    return [
        (
            a,
            AgentState(
                agent_id=a.pk,
                capacity=a.capacity,
                load=a.load,
                available=a.status == Agent.Status.AVAILABLE,
                skills=skills[a.pk],
                languages=frozenset(a.languages or ()),
            ),
        )
        for a in agents
    ]


@dataclasses.dataclass(frozen=True)
class QueueStats:
    queue_id: int
    name: str
    priority: int
    waiting: int
    offered: int
    active: int
    longest_waiting_s: int
    eligible_agents: int
    available_agents: int  # eligible, available and below capacity
    load: int  # of the eligible agents
    capacity: int


def queue_stats(business: Business | int, now: dt.datetime | None = None) -> list[QueueStats]:
    """Live statistics of every queue (Twilio TaskRouter's real-time queue statistics)."""
    now = now or clock.now()
    business_id = business if isinstance(business, int) else business.pk
    requirements = queue_requirements(business_id)
    states = _agent_states(business_id)
    counts: defaultdict[tuple[int, str], int] = defaultdict(int)
    oldest: dict[int, dt.datetime] = {}
    for queue_id, state, since in Session.objects.filter(
        business_id=business_id, state__in=Session.OPEN_STATES
    ).values_list("queue_id", "state", "waiting_since"):
        counts[(queue_id, state)] += 1
        if state != Session.State.WAITING or since is None:
            continue
        if queue_id not in oldest or since < oldest[queue_id]:
            oldest[queue_id] = since
    out = []
    for queue in list_queues(business_id):
        skills, language = requirements.get(queue.pk, (frozenset(), ""))
        need = Requirement(skills=skills, language=language)
        eligible = [
            (a, s)
            for a, s in states
            if dataclasses.replace(s, available=True, load=0).eligible(need)
        ]
        since = oldest.get(queue.pk)
        out.append(
            QueueStats(
                queue_id=queue.pk,
                name=queue.name,
                priority=queue.priority,
                waiting=counts[(queue.pk, Session.State.WAITING)],
                offered=counts[(queue.pk, Session.State.OFFERED)],
                active=counts[(queue.pk, Session.State.ACTIVE)],
                longest_waiting_s=max(0, int((now - since).total_seconds())) if since else 0,
                eligible_agents=len(eligible),
                available_agents=sum(1 for _, s in eligible if s.eligible(need)),
                load=sum(a.load for a, _ in eligible),
                capacity=sum(a.capacity for a, _ in eligible),
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class AgentRow:
    agent: Agent
    presence: str
    open_sessions: int
    unanswered: int


def agent_rows(business: Business | int, now: dt.datetime | None = None) -> list[AgentRow]:
    now = now or clock.now()
    agents = list(list_agents(business))
    open_count: defaultdict[int, int] = defaultdict(int)
    unanswered: defaultdict[int, int] = defaultdict(int)
    for agent_id, awaiting in Session.objects.filter(
        agent__in=agents, state__in=Session.OPEN_STATES
    ).values_list("agent_id", "awaiting_since"):
        open_count[agent_id] += 1
        if awaiting is not None:
            unanswered[agent_id] += 1
    return [AgentRow(a, presence_of(a, now), open_count[a.pk], unanswered[a.pk]) for a in agents]


@dataclasses.dataclass(frozen=True)
class ServiceLevel:
    """Service levels of one group (an agent, a team, a queue or everyone) over a period."""

    key: str
    label: str
    sessions: int
    answered: int
    abandoned: int
    first_response_avg_s: float | None
    first_response_p50_s: float | None
    first_response_p90_s: float | None
    within_target: float | None  # share of sessions answered within the target
    within_24h: float | None  # share of sessions answered within 24 h
    waiting_avg_s: float | None  # queued until first offered


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def service_levels(
    business: Business | int,
    *,
    since: dt.datetime,
    until: dt.datetime | None = None,
    by: str = "queue",
    target_s: int = 30,
) -> list[ServiceLevel]:
    """Sessions opened in [since, until): first-response times, the share answered within
    `target_s` and within 24 h, waiting time and abandoned sessions, grouped `by` queue,
    agent, team or `all`. A session counts toward the agent who held it last."""
    until = until or clock.now()
    rows = Session.objects.filter(business=business, opened_at__gte=since, opened_at__lt=until)
    groups: defaultdict[str, list[Session]] = defaultdict(list)
    labels: dict[str, str] = {}
    for s in rows.select_related("queue", "agent__user"):
        if by == "queue":
            key, label = f"queue:{s.queue_id}", s.queue.name
        elif by == "agent":
            key = f"agent:{s.agent_id or 0}"
            label = s.agent.user.full_name if s.agent else "(never assigned)"
        elif by == "team":
            team = s.agent.team if s.agent else ""
            key, label = f"team:{team}", team or "(no team)"
        else:
            key, label = "all", "Everyone"
        groups[key].append(s)
        labels[key] = label
    out = []
    for key in sorted(groups, key=lambda k: labels[k]):
        sessions = groups[key]
        first = [
            (s.first_response_at - s.opened_at).total_seconds()
            for s in sessions
            if s.first_response_at is not None
        ]
        waits = [
            (s.assigned_at - s.opened_at).total_seconds()
            for s in sessions
            if s.assigned_at is not None
        ]
        n = len(sessions)
        out.append(
            ServiceLevel(
                key=key,
                label=labels[key],
                sessions=n,
                answered=len(first),
                abandoned=sum(1 for s in sessions if s.state == Session.State.ABANDONED),
                first_response_avg_s=statistics.fmean(first) if first else None,
                first_response_p50_s=_quantile(first, 0.5),
                first_response_p90_s=_quantile(first, 0.9),
                within_target=sum(1 for f in first if f <= target_s) / n if n else None,
                within_24h=sum(1 for f in first if f <= DAY.total_seconds()) / n if n else None,
                waiting_avg_s=statistics.fmean(waits) if waits else None,
            )
        )
    return out


@dataclasses.dataclass(frozen=True)
class AtRisk:
    session: Session
    kind: str
    due_at: dt.datetime
    breached: bool


def sla_watch(business: Business | int, now: dt.datetime | None = None,
              risk_share: float = 0.8) -> list[AtRisk]:  # fmt: skip
    """Open sessions whose first or next response is breached or at risk (past
    `risk_share` of the target), soonest due first."""
    now = now or clock.now()
    out: list[AtRisk] = []
    sessions = (
        Session.objects.filter(business=business, state__in=Session.OPEN_STATES,
                               queue__sla__isnull=False, awaiting_since__isnull=False)
        .select_related("queue__sla", "conversation", "agent__user")
    )  # fmt: skip
    for s in sessions[:500]:
        policy = s.queue.sla
        assert policy is not None and s.awaiting_since is not None
        if s.first_response_at is None:
            kind, start, target = "first_response", s.opened_at, policy.first_response_s
        else:
            kind, start, target = "next_response", s.awaiting_since, policy.next_response_s
        due = start + dt.timedelta(seconds=target)
        if now >= start + dt.timedelta(seconds=target * risk_share):
            out.append(AtRisk(s, kind, due, now >= due))
    return sorted(out, key=lambda r: r.due_at)


def list_breaches(business: Business | int, limit: int = 50) -> QuerySet[SlaBreach]:
    return (
        SlaBreach.objects.filter(business=business)
        .select_related("session__conversation", "session__queue", "agent__user")
        .order_by("-breached_at")[:limit]
    )


def search_sessions(
    business: Business | int,
    *,
    states: list[str] | None = None,
    queue_id: int | None = None,
    agent_user_id: int | None = None,
) -> QuerySet[Session]:
    """The business's sessions in any state (`states`: only those), of one queue or held by
    one agent (by their user id), for supervisors' lists and the API."""
    rows = Session.objects.filter(business=business)
    if states:
        rows = rows.filter(state__in=states)
    if queue_id is not None:
        rows = rows.filter(queue_id=queue_id)
    if agent_user_id is not None:
        rows = rows.filter(agent__user_id=agent_user_id)
    return rows.select_related("conversation", "queue", "agent__user")


def first_response_times(
    business: Business | int, *, since: dt.datetime, until: dt.datetime | None = None
) -> list[float]:
    """Seconds from opening to the first response of the sessions opened in [since, until)
    that were answered: what the first-response histogram counts."""
    until = until or clock.now()
    rows = Session.objects.filter(
        business=business, opened_at__gte=since, opened_at__lt=until
    ).values_list("opened_at", "first_response_at")
    rows = rows.filter(first_response_at__isnull=False)
    return [(answered - opened).total_seconds() for opened, answered in rows if answered]


def list_rules(business: Business | int) -> QuerySet[RoutingRule]:
    """The routing rules in the order they are tried (the first match wins)."""
    return RoutingRule.objects.filter(business=business).select_related("queue")


def list_canned_responses(business: Business | int) -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(business=business)
