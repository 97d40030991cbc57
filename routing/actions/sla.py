"""Service-level breaches: a session's first response, next response (a customer message
left unanswered) or resolution later than its queue's SLA policy allows. Each breach is
recorded once and announced to supervisors and to the agent holding the session."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from parley.core import clock
from parley.core.events import SlaBreached
from parley.core.publish import publish
from routing.models import Agent, Queue, Session, SlaBreach, SlaPolicy

BATCH = 1000
Kind = SlaBreach.Kind


def breach(session: Session, kind: str, due_at: dt.datetime, at: dt.datetime) -> bool:
    """Record a breach of `kind` due at `due_at` (once) and announce it."""
    try:
        with transaction.atomic():
            SlaBreach.objects.create(
                business_id=session.business_id, session=session, kind=kind, due_at=due_at,
                breached_at=at, agent_id=session.agent_id,
            )  # fmt: skip
    except IntegrityError:
        return False
    queue = Queue.objects.filter(pk=session.queue_id).values_list("name", flat=True).first()
    user_id = (
        Agent.objects.filter(pk=session.agent_id).values_list("user_id", flat=True).first()
        if session.agent_id
        else None
    )
    for addressed in (None, user_id) if user_id else (None,):
        publish(
            SlaBreached(
                business_id=session.business_id,
                occurred_at=at,
                user_id=addressed,
                session_id=session.pk,
                conversation_id=session.conversation_id,
                queue=queue or "",
                kind=kind,
                due_at=due_at,
                agent_user_id=user_id,
            )
        )
    return True


def record_late_first_response(session: Session, at: dt.datetime, policy: SlaPolicy | None) -> None:
    """A first response that came after its target (before the sweep noticed); `policy`
    is the session's queue's (None: it has none)."""
    if policy is None:
        return
    due = session.opened_at + dt.timedelta(seconds=policy.first_response_s)
    if at > due:
        breach(session, Kind.FIRST_RESPONSE, due, at)


def do_check_sla(now: dt.datetime | None = None) -> int:
    """Record every breach that became due by `now`."""
    now = now or clock.now()
    found = 0
    open_states = Session.OPEN_STATES
    for policy in SlaPolicy.objects.filter(queues__isnull=False).distinct():
        queues = list(policy.queues.values_list("pk", flat=True))
        sessions = Session.objects.filter(queue_id__in=queues, state__in=open_states)
        first = dt.timedelta(seconds=policy.first_response_s)
        nxt = dt.timedelta(seconds=policy.next_response_s)
        checks: list[tuple[str, object, dt.timedelta, str]] = [
            (Kind.FIRST_RESPONSE,
             sessions.filter(first_response_at__isnull=True, opened_at__lte=now - first)
             .exclude(breaches__kind=Kind.FIRST_RESPONSE), first, "opened_at"),
            (Kind.NEXT_RESPONSE,
             sessions.filter(first_response_at__isnull=False, awaiting_since__lte=now - nxt),
             nxt, "awaiting_since"),
        ]  # fmt: skip
        if policy.resolution_s:
            whole = dt.timedelta(seconds=policy.resolution_s)
            checks.append((
                Kind.RESOLUTION,
                sessions.filter(opened_at__lte=now - whole).exclude(breaches__kind=Kind.RESOLUTION),
                whole, "opened_at",
            ))  # fmt: skip
        for kind, rows, target, field in checks:
            for session in list(rows[:BATCH]):  # type: ignore[index]
                due = getattr(session, field) + target
                found += breach(session, kind, due, now)
    return found
