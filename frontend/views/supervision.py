"""The supervisors' page: live queues (waiting, longest waiting, offered and active, eligible
and available agents, load against capacity), agents (status and why, presence, load,
unanswered) with a supervisor's status change, SLA at risk and breached; service levels of a
period of the simulation clock by queue, agent and team, with two charts drawn as SVG on the
server (routing.charts). The live panels are one fragment (`?part=live`) the page fetches
again when routing's events arrive. Then the sessions list and a session's page, where a
supervisor transfers a conversation to an agent or a queue with a note.

Metadata only: administrators open these pages too, so nothing here shows what customers
or agents wrote (a transfer's note shows only to roles that read conversations)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.access import console_view, live_page, staff
from frontend.views.common import not_found, page_of, show_error
from parley.accounts.roles import Capability
from parley.core import clock
from parley.core.errors import ParleyError
from routing.actions.agents import do_set_agent_status
from routing.actions.sessions import do_transfer_session
from routing.charts import bars_svg, bucket_first_responses, histogram_svg
from routing.models import Agent, Queue, Session
from routing.selectors import (
    AgentRow,
    AtRisk,
    QueueStats,
    ServiceLevel,
    agent_rows,
    first_response_times,
    get_session,
    list_agents,
    list_breaches,
    list_queues,
    queue_stats,
    search_sessions,
    service_levels,
    sla_watch,
)

PERIODS = [("today", "Today"), ("7d", "Last 7 days")]
TARGET_S = 30
GROUPS = [("queue", "By queue"), ("agent", "By agent"), ("team", "By team")]
# What a supervisor may make of another agent's status: taking them out of routing.
SUPERVISOR_STATUSES = (Agent.Status.AWAY, Agent.Status.OFFLINE)
RECENT_BREACHES = 20
OPEN = "open"
STATE_CHOICES = [(OPEN, "Open"), *Session.State.choices, ("all", "Any state")]


# -- formatting ------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """4.2 s, 45 s, 3 min 05 s, 2 h 10 min; a dash for nothing."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@dataclasses.dataclass(frozen=True)
class LevelRow:
    """One row of a service-level table, formatted."""

    level: ServiceLevel
    avg: str
    p50: str
    p90: str
    within_target: str
    within_24h: str
    waiting: str


def _level_row(level: ServiceLevel) -> LevelRow:
    return LevelRow(
        level=level,
        avg=duration(level.first_response_avg_s),
        p50=duration(level.first_response_p50_s),
        p90=duration(level.first_response_p90_s),
        within_target=share(level.within_target),
        within_24h=share(level.within_24h),
        waiting=duration(level.waiting_avg_s),
    )


# -- forms -----------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, label="Period")
    target_s = forms.IntegerField(
        min_value=1, max_value=86400, required=False, label="Target (seconds)"
    )


class AgentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in SUPERVISOR_STATUSES])


class SessionFilterForm(forms.Form):
    state = forms.ChoiceField(choices=STATE_CHOICES, required=False, label="State")
    queue = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Queue")
    agent = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Agent")

    def __init__(self, *args: Any, queues: list[Queue], agents: list[Agent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queue, agent = self.fields["queue"], self.fields["agent"]
        assert isinstance(queue, forms.ChoiceField) and isinstance(agent, forms.ChoiceField)
        queue.choices = [("", "Any queue"), *((q.pk, q.name) for q in queues)]
        agent.choices = [("", "Anyone"), *((a.user_id, a.user.full_name) for a in agents)]


class TransferForm(forms.Form):
    to = forms.ChoiceField(label="Transfer to")
    note = forms.CharField(
        max_length=1000,
        required=False,
        label="Note for the receiver",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, queues: list[Queue], agents: list[Agent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        to = self.fields["to"]
        assert isinstance(to, forms.ChoiceField)
        to.choices = [
            ("", "Choose an agent or a queue…"),
            (
                "Agents",
                [
                    (
                        f"agent:{a.user_id}",
                        f"{a.user.full_name} ({a.status}, {a.load}/{a.capacity})",
                    )
                    for a in agents
                ],
            ),
            ("Queues", [(f"queue:{q.pk}", q.name) for q in queues]),
        ]

    def target(self) -> tuple[int | None, int | None]:
        """(agent user id, queue id) of the chosen target."""
        kind, _, pk = str(self.cleaned_data["to"]).partition(":")
        return (int(pk), None) if kind == "agent" else (None, int(pk))


# -- the page --------------------------------------------------------------------------------


def _period(now: dt.datetime, key: str) -> tuple[dt.datetime, dt.datetime]:
    if key == "7d":
        return now - dt.timedelta(days=7), now
    return now.replace(hour=0, minute=0, second=0, microsecond=0), now


@dataclasses.dataclass(frozen=True)
class QueueLine:
    stats: QueueStats
    longest: str


@dataclasses.dataclass(frozen=True)
class WatchLine:
    risk: AtRisk
    overdue: str  # how long past due, or how long until due


def live_context(business_id: int, now: dt.datetime) -> dict[str, Any]:
    """What the live panels show: queues, agents, SLA at risk and the latest breaches."""
    watch = []
    for risk in sla_watch(business_id, now):
        delta = (now - risk.due_at).total_seconds()
        text = f"{duration(delta)} late" if delta >= 0 else f"due in {duration(-delta)}"
        watch.append(WatchLine(risk, text))
    agents: list[AgentRow] = agent_rows(business_id, now)
    return {
        "now": now,
        "queues": [
            QueueLine(q, duration(q.longest_waiting_s)) for q in queue_stats(business_id, now)
        ],
        "agents": agents,
        "watch": watch,
        "breaches": list(list_breaches(business_id, limit=RECENT_BREACHES)),
        "supervisor_statuses": SUPERVISOR_STATUSES,
    }


@console_view(Capability.SUPERVISE_QUEUES)
@require_GET
@live_page
def supervision(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    now = clock.now()
    if request.GET.get("part") == "live":
        return render(
            request, "frontend/_supervision_live.html", live_context(user.business_id, now)
        )
    form = PeriodForm(request.GET or None)
    chosen = form.cleaned_data if form.is_valid() else {}
    period = chosen.get("period") or "today"
    target_s = chosen.get("target_s") or TARGET_S
    since, until = _period(now, period)
    levels = {
        by: [
            _level_row(level)
            for level in service_levels(
                user.business_id, since=since, until=until, by=by, target_s=target_s
            )
        ]
        for by, _ in GROUPS
    }
    overall = service_levels(
        user.business_id, since=since, until=until, by="all", target_s=target_s
    )
    histogram = histogram_svg(
        "First response",
        bucket_first_responses(first_response_times(user.business_id, since=since, until=until)),
    )
    rates = bars_svg(
        f"Answered within {target_s} s, by queue",
        [(row.level.label, (row.level.within_target or 0.0) * 100) for row in levels["queue"]],
        "%",
        maximum=100,
    )
    return render(
        request,
        "frontend/supervision.html",
        {
            **live_context(user.business_id, now),
            "form": form,
            "period": period,
            "period_label": dict(PERIODS)[period],
            "since": since,
            "until": until,
            "target_s": target_s,
            "overall": _level_row(overall[0]) if overall else None,
            "levels": [(by, label, levels[by]) for by, label in GROUPS],
            "charts": [_svg(histogram), _svg(rates)],
        },
    )


def _svg(markup: str) -> SafeString:
    # routing.charts escapes every text it was given: its output is markup, not text.
    return mark_safe(markup)


@console_view(Capability.SUPERVISE_QUEUES)
@require_POST
def agent_status(request: HttpRequest, agent_user_id: str) -> HttpResponse:
    """A supervisor takes an agent out of routing (away or offline): their unanswered
    conversations go back to the queue."""
    user = staff(request)
    agent = list_agents(user.business_id).filter(user_id=int(agent_user_id)).first()
    if agent is None:
        return not_found(request, ParleyError("No such agent."))
    form = AgentStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose away or offline.")
        return redirect("/supervision/#agents")
    status = form.cleaned_data["status"]
    try:
        do_set_agent_status(user, status, agent_user=agent.user)
    except ParleyError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{agent.user.full_name} is now {status}.")
    return redirect("/supervision/#agents")


# -- sessions and transfer -------------------------------------------------------------------


@console_view(Capability.SUPERVISE_QUEUES)
@require_GET
def sessions(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    queues = list(list_queues(user.business_id))
    agents = list(list_agents(user.business_id))
    filters = SessionFilterForm(request.GET or None, queues=queues, agents=agents)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    state = criteria.get("state") or OPEN
    if state == OPEN:
        states: list[str] | None = list(Session.OPEN_STATES)
    else:
        states = None if state == "all" else [state]
    rows = search_sessions(
        user.business_id,
        states=states,
        queue_id=criteria.get("queue"),
        agent_user_id=criteria.get("agent"),
    )
    ordered = (
        rows.order_by("-priority", "opened_at", "pk")
        if state == OPEN
        else rows.order_by("-opened_at", "-pk")
    )
    now = clock.now()
    page = page_of(request, ordered)
    return render(
        request,
        "frontend/supervision_sessions.html",
        {
            "filters": filters,
            "filtered": any(criteria.get(k) for k in ("queue", "agent")) or state != OPEN,
            "page": page,
            "rows": [(s, duration(_waited(s, now)), s.state in Session.OPEN_STATES) for s in page],
        },
    )


def _waited(session: Session, now: dt.datetime) -> float | None:
    """How long the customer has waited for an answer (open sessions only)."""
    if session.state not in Session.OPEN_STATES:
        return None
    since = session.awaiting_since or (
        session.waiting_since if session.state == Session.State.WAITING else None
    )
    return max(0.0, (now - since).total_seconds()) if since else None


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    user = staff(request)
    session = get_session(user.business_id, int(session_id))
    if session is None:
        return not_found(request, ParleyError("No such session."))
    queues = list(list_queues(user.business_id))
    agents = list(list_agents(user.business_id))
    form = TransferForm(request.POST or None, queues=queues, agents=agents)
    if request.method == "POST" and form.is_valid():
        to_agent, to_queue = form.target()
        try:
            do_transfer_session(
                user,
                session.pk,
                to_agent_user_id=to_agent,
                to_queue_id=to_queue,
                note=form.cleaned_data["note"],
            )
        except ParleyError as exc:
            if exc.field in ("to", "to_agent", "to_queue"):
                form.add_error("to", exc.message)
            else:
                show_error(form, exc)
        else:
            messages.success(request, "Transferred.")
            return redirect(f"/supervision/sessions/{session.pk}/")
    log = list(session.log.select_related("agent__user", "actor", "queue"))
    return render(
        request,
        "frontend/supervision_session.html",
        {
            "session": session,
            "form": form,
            "open": session.state in Session.OPEN_STATES,
            "log": log,
            # Staff write transfer notes about the customer: roles that read conversations.
            "show_notes": user.can(Capability.READ_CONVERSATIONS),
            "waited": duration(_waited(session, clock.now())),
        },
    )
