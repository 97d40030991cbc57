"""Agents: their routing profile (capacity, skills, languages, team), the status they choose
and the presence their console's heartbeats report. An agent idle longer than
`ROUTING_IDLE_AFTER_S` (60 s) or whose console went silent for `ROUTING_OFFLINE_AFTER_S`
is set away or offline by the sweep, and their unanswered conversations go back to the
queue; activity again brings back an agent the sweep (not the agent) had set away."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser
from parley.accounts.roles import Role
from parley.core import clock
from parley.core.errors import InvalidParameter
from parley.core.events import AgentStatusChanged
from parley.core.publish import publish
from routing.models import MAX_CAPACITY, MIN_CAPACITY, Agent, AgentSkill, Session, Skill

# Statuses the sweep sets, which activity undoes.
SYSTEM_REASONS = ("idle", "disconnected")
ROUTED_ROLES = (Role.AGENT, Role.SUPERVISOR)


def idle_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.PARLEY.get("ROUTING_IDLE_AFTER_S", 60)))


def offline_after() -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.PARLEY.get("ROUTING_OFFLINE_AFTER_S", 120)))


def do_ensure_agent(user: StaffUser) -> Agent:
    """The user's routing profile, made (offline, default capacity) on first need."""
    found = Agent.objects.filter(user=user).first()
    if found is not None:
        return found
    if user.role not in ROUTED_ROLES:
        raise InvalidParameter("Only agents and supervisors take conversations.", field="user")
    agent, _ = Agent.objects.get_or_create(
        user=user,
        defaults={
            "business_id": user.business_id,
            "touched_at": timezone.now(),
            "profile_at": timezone.now(),
            "status_changed_at": clock.now(),
        },
    )
    return agent


def _announce(agent: Agent, at: dt.datetime) -> None:
    publish(
        AgentStatusChanged(
            business_id=agent.business_id,
            occurred_at=at,
            agent_user_id=agent.user_id,
            status=agent.status,
            reason=agent.status_reason,
            load=agent.load,
            capacity=agent.capacity,
        )
    )


def set_status(agent: Agent, status: str, *, reason: str, at: dt.datetime) -> bool:
    """Change an (already locked) agent's status; returns whether it changed."""
    if agent.status == status and agent.status_reason == reason:
        return False
    agent.status = status
    agent.status_reason = reason
    agent.status_changed_at = at
    agent.touched_at = agent.profile_at = timezone.now()
    agent.save(
        update_fields=["status", "status_reason", "status_changed_at", "touched_at", "profile_at"]
    )
    _announce(agent, at)
    return True


def return_unanswered(agent: Agent, at: dt.datetime, *, reason: str) -> int:
    """Send the agent's offered and not yet answered sessions back to their queues."""
    from routing.actions.sessions import return_to_queue

    sessions = Session.objects.select_for_update().filter(
        agent=agent, state__in=(Session.State.OFFERED, Session.State.ACTIVE),
        first_response_at__isnull=True,
    )  # fmt: skip
    count = 0
    for session in sessions:
        return_to_queue(session, at, reason=reason)
        count += 1
    return count


def do_set_agent_status(actor: StaffUser, status: str, *, agent_user: StaffUser | None = None
                        ) -> Agent:  # fmt: skip
    """An agent sets their own status (a supervisor may set an agent's). Going away or
    offline returns their unanswered conversations to the queue; becoming available pulls
    waiting ones at once."""
    from routing.actions.sessions import do_route_waiting

    if status not in Agent.Status.values:
        raise InvalidParameter(f"Unknown status {status!r}.", field="status")
    target = agent_user or actor
    if target.business_id != actor.business_id:
        raise InvalidParameter("No such agent.", field="agent")
    now = clock.now()
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=do_ensure_agent(target).pk)
        set_status(agent, status, reason="" if target == actor else "supervisor", at=now)
        if status == Agent.Status.AVAILABLE:
            agent.last_seen_at = agent.last_active_at = now
            agent.save(update_fields=["last_seen_at", "last_active_at"])
        if status in (Agent.Status.AWAY, Agent.Status.OFFLINE):
            return_unanswered(agent, now, reason=status)
    if status == Agent.Status.AVAILABLE:
        do_route_waiting(agent.business_id)
    return agent


def do_record_heartbeat(user: StaffUser, *, active: bool) -> Agent | None:
    """A console tab of `user` is open (`active`: and was used since the last beat)."""
    from routing.actions.sessions import do_route_waiting

    if user.role not in ROUTED_ROLES:
        return None
    now = clock.now()
    back = False
    with transaction.atomic():
        agent = Agent.objects.select_for_update().filter(user=user).first()
        if agent is None:
            return None
        agent.last_seen_at = now
        fields = ["last_seen_at"]
        if active:
            agent.last_active_at = now
            fields.append("last_active_at")
        agent.save(update_fields=fields)
        if active and agent.status_reason in SYSTEM_REASONS:
            back = set_status(agent, Agent.Status.AVAILABLE, reason="", at=now)
    if back:
        do_route_waiting(agent.business_id)
    return agent


def do_sweep_presence(now: dt.datetime | None = None) -> int:
    """Agents silent past the offline bound go offline, inactive past the idle bound go
    away; either way their unanswered conversations go back to the queue."""
    now = now or clock.now()
    changed = 0
    working = (Agent.Status.AVAILABLE, Agent.Status.BUSY)
    silent = Agent.objects.filter(status__in=(*working, Agent.Status.AWAY)).filter(
        last_seen_at__lt=now - offline_after()
    )
    idle = Agent.objects.filter(status__in=working, last_active_at__lt=now - idle_after())
    for rows, status, reason in (
        (silent, Agent.Status.OFFLINE, "disconnected"),
        (idle, Agent.Status.AWAY, "idle"),
    ):
        for pk in list(rows.values_list("pk", flat=True)[:1000]):
            with transaction.atomic():
                agent = Agent.objects.select_for_update().get(pk=pk)
                if set_status(agent, status, reason=reason, at=now):
                    return_unanswered(agent, now, reason=reason)
                    changed += 1
    return changed


def do_take_offline(user_ids: tuple[int, ...], at: dt.datetime) -> int:
    """Accounts that may no longer take conversations: offline, and every session they
    hold (answered or not) back to the queue."""
    from routing.actions.sessions import return_to_queue

    count = 0
    for agent in Agent.objects.select_for_update().filter(user_id__in=user_ids):
        set_status(agent, Agent.Status.OFFLINE, reason="deactivated", at=at)
        for session in Session.objects.select_for_update().filter(
            agent=agent, state__in=Session.HELD_STATES
        ):
            return_to_queue(session, at, reason="deactivated")
            count += 1
    return count


def do_update_agent(
    actor: StaffUser,
    agent_user: StaffUser,
    *,
    capacity: int | None = None,
    languages: list[str] | None = None,
    team: str | None = None,
    skills: dict[str, int] | None = None,
) -> Agent:
    """A supervisor or administrator sets an agent's capacity (1 to 50), languages, team and
    skills (name → proficiency 1 to 5; skills are made on first use)."""
    if agent_user.business_id != actor.business_id:
        raise InvalidParameter("No such agent.", field="agent")
    if capacity is not None and not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
        raise InvalidParameter(
            f"Capacity must be between {MIN_CAPACITY} and {MAX_CAPACITY}.", field="capacity"
        )
    clean_languages = _languages(languages) if languages is not None else None
    clean_skills = _skills(skills) if skills is not None else None
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=do_ensure_agent(agent_user).pk)
        if capacity is not None:
            agent.capacity = capacity
        if clean_languages is not None:
            agent.languages = clean_languages
        if team is not None:
            agent.team = team.strip()[:80]
        agent.touched_at = agent.profile_at = timezone.now()
        agent.save()
        if clean_skills is not None:
            AgentSkill.objects.filter(agent=agent).delete()
            for name, proficiency in clean_skills.items():
                skill, _ = Skill.objects.get_or_create(business_id=agent.business_id, name=name)
                AgentSkill.objects.create(agent=agent, skill=skill, proficiency=proficiency)
        do_record_audit(
            "routing.agent_updated",
            business_id=actor.business_id,
            actor=actor,
            target=agent_user.email,
            details={
                "capacity": agent.capacity,
                "languages": agent.languages,
                "team": agent.team,
                "skills": clean_skills,
            },
        )
        _announce(agent, clock.now())
    return agent


def _languages(raw: list[str]) -> list[str]:
    out: list[str] = []
    for item in raw:
        code = str(item).strip().lower()
        if not code:
            continue
        if not (2 <= len(code) <= 8 and code.replace("-", "").isalpha()):
            raise InvalidParameter(f"{item!r} is not a language code.", field="languages")
        if code not in out:
            out.append(code)
    return out[:20]


def _skills(raw: dict[str, int]) -> dict[str, int]:
    from django.utils.text import slugify

    out: dict[str, int] = {}
    for name, level in raw.items():
        slug = slugify(str(name))[:40]
        if not slug:
            raise InvalidParameter(f"{name!r} is not a skill name.", field="skills")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise InvalidParameter(f"The proficiency of {slug} must be 1 to 5.", field="skills")
        out[slug] = level
    if len(out) > 50:
        raise InvalidParameter("At most 50 skills per agent.", field="skills")
    return out
