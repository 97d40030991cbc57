"""What time alone changes, on the simulation clock: offers that lapsed, snoozes that
ended, priority ageing, agents' presence and SLA breaches; then every business with
waiting sessions is routed again. Beat runs it every few seconds and every move of the
clock runs it at once."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction

from parley.core import clock
from routing.actions.agents import do_sweep_presence, return_unanswered, set_status
from routing.actions.sessions import _wake, do_route_waiting, return_to_queue
from routing.actions.sla import do_check_sla
from routing.models import Agent, Session

BATCH = 1000
State = Session.State


@dataclasses.dataclass(frozen=True)
class SweepResult:
    presence: int = 0
    offers: int = 0
    woken: int = 0
    escalated: int = 0
    breaches: int = 0
    routed: int = 0


def do_expire_offers(now: dt.datetime | None = None) -> int:
    """An offer neither accepted nor answered in time goes back to its queue, and the agent
    who let it lapse is set away (their other unanswered offers return too)."""
    now = now or clock.now()
    expired = 0
    due = Session.objects.filter(state=State.OFFERED, offer_expires_at__lte=now)
    for pk in list(due.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=State.OFFERED, offer_expires_at__lte=now)
                .first()
            )
            if session is None:
                continue
            agent_id = session.agent_id
            return_to_queue(session, now, reason="offer_timeout")
            expired += 1
            agent = (
                Agent.objects.select_for_update().filter(pk=agent_id).first()
                if agent_id is not None
                else None
            )
            if agent is not None and set_status(
                agent, Agent.Status.AWAY, reason="offer_timeout", at=now
            ):
                return_unanswered(agent, now, reason="offer_timeout")
    return expired


def do_wake_snoozed(now: dt.datetime | None = None) -> int:
    now = now or clock.now()
    woken = 0
    for pk in list(
        Session.objects.filter(state=State.SNOOZED, snoozed_until__lte=now).values_list(
            "pk", flat=True
        )[:BATCH]
    ):
        with transaction.atomic():
            session = Session.objects.select_for_update().filter(pk=pk, state=State.SNOOZED)
            found = session.select_related("conversation").first()
            if found is None:
                continue
            _wake(found, now, customer=found.conversation.customer)
            found.save(update_fields=["state", "waiting_since", "snoozed_until", "agent"])
            woken += 1
    return woken


def do_escalate(now: dt.datetime | None = None) -> int:
    """Priority ageing: a waiting session gains a step for each `escalate_after_s` of its
    queue it has waited, up to the queue's maximum. One read of the waiting sessions whose
    queues age, whatever the number of queues."""
    now = now or clock.now()
    changed = 0
    rows = Session.objects.filter(
        state=State.WAITING, queue__escalate_after_s__gt=0, waiting_since__isnull=False
    ).values_list(
        "pk", "base_priority", "priority", "waiting_since", "queue__escalate_after_s",
        "queue__max_priority",
    )  # fmt: skip
    for pk, base, priority, since, every, highest in rows[: BATCH * 10]:
        if since is None:
            continue
        steps = int((now - since).total_seconds() // every)
        target = min(base + steps, max(highest, base))
        if target != priority:
            changed += Session.objects.filter(pk=pk, state=State.WAITING).update(priority=target)
    return changed


def do_sweep_routing(now: dt.datetime | None = None) -> SweepResult:
    now = now or clock.now()
    presence = do_sweep_presence(now)
    offers = do_expire_offers(now)
    woken = do_wake_snoozed(now)
    escalated = do_escalate(now)
    breaches = do_check_sla(now)
    routed = 0
    for business_id in (
        Session.objects.filter(state=State.WAITING).values_list("business_id", flat=True).distinct()
    ):
        routed += do_route_waiting(business_id)
    return SweepResult(presence, offers, woken, escalated, breaches, routed)
