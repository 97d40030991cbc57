"""Routing over the API: queues, agents' routing profiles and status, service sessions with
transfer and resolve, live statistics and service levels.

    GET   /parley/v1/routing/queues                          the queues
    POST  /parley/v1/routing/queues                          create a queue
    GET   /parley/v1/routing/queues/{queue_id}               one queue
    PATCH /parley/v1/routing/queues/{queue_id}               change a queue
    GET   /parley/v1/routing/agents                          agents: profile, status, presence, load
    GET   /parley/v1/routing/agents/{agent_id}               one agent (by staff user id)
    PATCH /parley/v1/routing/agents/{agent_id}               profile (capacity, skills, …), status
    GET   /parley/v1/routing/sessions                        sessions (?state, queue_id, agent_id)
    POST  /parley/v1/routing/sessions/{session_id}/transfer  to an agent or a queue, with a note
    POST  /parley/v1/routing/sessions/{session_id}/resolve
    GET   /parley/v1/routing/stats                           live queue statistics and agents
    GET   /parley/v1/routing/service-levels                  ?since&until&by&target_s

Permissions: "Watch queues, load and service levels" (supervise_queues) for all of it; an
agent's profile needs "Manage agent accounts" (manage_agents) as well. Metadata only: no
message text is ever answered. A token acts for its business with the scopes it was given;
the changes it makes are recorded as its creator's, who must still be active and hold the
permission. Thin: parse, authorise, call one action or selector, render."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_staff
from parley.api.auth import ApiClient, BearerTokenAuthentication
from parley.api.base import (
    ApiView,
    MetaCursorPagination,
    query_int,
    query_text,
    query_time,
    safe_text,
)
from parley.api.fields import StrictString, named_choice
from parley.api.permissions import business_of, capability
from parley.api.views import _id_parameter
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound, PermissionDenied
from routing.actions.agents import ROUTED_ROLES, do_set_agent_status, do_update_agent
from routing.actions.sessions import do_resolve_session, do_transfer_session
from routing.actions.setup import do_save_queue
from routing.models import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    MIN_CAPACITY,
    Agent,
    Queue,
    Session,
)
from routing.selectors import (
    AgentRow,
    QueueStats,
    ServiceLevel,
    agent_rows,
    get_session,
    list_agents,
    list_queues,
    queue_stats,
    search_sessions,
    service_levels,
)

STATES = [s.value for s in Session.State]
STATE_FILTERS = ["open", *STATES]
STATUSES = [s.value for s in Agent.Status]
# What a supervisor may make of another agent's status (agents make themselves available).
SUPERVISOR_STATUSES = [Agent.Status.AWAY.value, Agent.Status.OFFLINE.value]
GROUPS = ["queue", "agent", "team", "all"]
PRESENCES = ["online", "idle", "offline"]
MAX_SPAN = dt.timedelta(days=31)
ID_PATTERN = r"[0-9]{1,18}"


# -- request and response shapes -------------------------------------------------------------


def _skills_field(low: int, help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.IntegerField(min_value=low, max_value=5),
        required=False,
        help_text=help_text,
    )


class QueueIn(serializers.Serializer[Any]):
    name = StrictString(max_length=80)
    priority = serializers.IntegerField(min_value=-100, max_value=100, required=False)
    language = StrictString(max_length=8, allow_blank=True, required=False, help_text="'' = any.")
    skills = _skills_field(1, "Required skills: name → minimum proficiency (1 to 5).")
    number_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=100,
        required=False,
        help_text="The business numbers whose conversations come to this queue.",
    )
    sla_policy_id = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    is_default = serializers.BooleanField(required=False)
    offer_timeout_s = serializers.IntegerField(min_value=5, max_value=3600, required=False)
    escalate_after_s = serializers.IntegerField(min_value=0, max_value=7 * 86400, required=False)
    max_priority = serializers.IntegerField(min_value=-100, max_value=100, required=False)

    def validate_skills(self, value: dict[str, int]) -> dict[str, int]:
        if len(value) > 50:
            raise serializers.ValidationError("at most 50 skills.")
        return value


class QueueUpdateIn(QueueIn):
    name = StrictString(max_length=80, required=False)


class QueueOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    language = serializers.CharField(allow_blank=True)
    skills = serializers.DictField(child=serializers.IntegerField())
    number_ids = serializers.ListField(child=serializers.IntegerField())
    sla_policy_id = serializers.IntegerField(allow_null=True)
    is_default = serializers.BooleanField()
    offer_timeout_s = serializers.IntegerField()
    escalate_after_s = serializers.IntegerField()
    max_priority = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class AgentOut(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="The agent's staff user id.")
    name = serializers.CharField()
    role = serializers.CharField()
    team = serializers.CharField(allow_blank=True)
    capacity = serializers.IntegerField()
    load = serializers.IntegerField(help_text="Offered and active sessions held.")
    status = named_choice(STATUSES, "RoutingAgentStatus")(choices=STATUSES)
    status_reason = serializers.CharField(allow_blank=True)
    presence = named_choice(PRESENCES, "RoutingPresence")(choices=PRESENCES)
    languages = serializers.ListField(child=serializers.CharField())
    skills = serializers.DictField(child=serializers.IntegerField())
    open_sessions = serializers.IntegerField()
    unanswered = serializers.IntegerField(help_text="Open sessions awaiting a reply.")
    last_seen_at = serializers.DateTimeField(allow_null=True)
    last_assigned_at = serializers.DateTimeField(allow_null=True)


class AgentUpdateIn(serializers.Serializer[Any]):
    capacity = serializers.IntegerField(
        min_value=MIN_CAPACITY, max_value=MAX_CAPACITY, required=False
    )
    skills = _skills_field(1, "name → proficiency (1 to 5); replaces the agent's skills.")
    languages = serializers.ListField(
        child=StrictString(max_length=8),
        max_length=20,
        required=False,
        help_text="e.g. ['en', 'hi']",
    )
    team = StrictString(max_length=80, allow_blank=True, required=False)
    status = named_choice(STATUSES, "RoutingAgentStatus")(
        choices=STATUSES,
        required=False,
        help_text="Another agent may be set away or offline (their unanswered conversations "
        "go back to the queue); a supervisor may set their own status to anything.",
    )

    def validate_skills(self, value: dict[str, int]) -> dict[str, int]:
        if len(value) > 50:
            raise serializers.ValidationError("at most 50 skills.")
        return value


class SessionOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    customer = serializers.CharField(help_text="The customer's number (E.164).")
    queue_id = serializers.IntegerField()
    queue = serializers.CharField()
    state = named_choice(STATES, "RoutingSessionState")(choices=STATES)
    agent_id = serializers.IntegerField(allow_null=True, help_text="The holder's user id.")
    priority = serializers.IntegerField()
    language = serializers.CharField(allow_blank=True)
    labels = serializers.ListField(child=serializers.CharField())
    unread = serializers.IntegerField()
    transfers = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    waiting_since = serializers.DateTimeField(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    accepted_at = serializers.DateTimeField(allow_null=True)
    first_response_at = serializers.DateTimeField(allow_null=True)
    awaiting_since = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)


class TransferIn(serializers.Serializer[Any]):
    to_agent_id = serializers.IntegerField(min_value=1, required=False, help_text="A user id.")
    to_queue_id = serializers.IntegerField(min_value=1, required=False)
    note = StrictString(
        max_length=1000, allow_blank=True, required=False, trim_whitespace=False, default=""
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("to_agent_id" in attrs) == ("to_queue_id" in attrs):
            raise serializers.ValidationError("give exactly one of to_agent_id and to_queue_id.")
        return attrs


class QueueStatsOut(serializers.Serializer[Any]):
    queue_id = serializers.IntegerField()
    name = serializers.CharField()
    priority = serializers.IntegerField()
    waiting = serializers.IntegerField()
    offered = serializers.IntegerField()
    active = serializers.IntegerField()
    longest_waiting_s = serializers.IntegerField()
    eligible_agents = serializers.IntegerField()
    available_agents = serializers.IntegerField(help_text="Eligible, available, not full.")
    load = serializers.IntegerField(help_text="Of the eligible agents.")
    capacity = serializers.IntegerField(help_text="Of the eligible agents.")


class AgentSummaryOut(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_presence = serializers.DictField(child=serializers.IntegerField())
    load = serializers.IntegerField()
    capacity = serializers.IntegerField()
    unanswered = serializers.IntegerField()


class StatsOut(serializers.Serializer[Any]):
    at = serializers.DateTimeField(help_text="The simulation clock's time of the figures.")
    queues = QueueStatsOut(many=True)
    agents = AgentSummaryOut()


class ServiceLevelOut(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    sessions = serializers.IntegerField()
    answered = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    first_response_avg_s = serializers.FloatField(allow_null=True)
    first_response_p50_s = serializers.FloatField(allow_null=True)
    first_response_p90_s = serializers.FloatField(allow_null=True)
    within_target = serializers.FloatField(allow_null=True, help_text="A share, 0 to 1.")
    within_24h = serializers.FloatField(allow_null=True, help_text="A share, 0 to 1.")
    waiting_avg_s = serializers.FloatField(allow_null=True)


class ServiceLevelsOut(serializers.Serializer[Any]):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    by = named_choice(GROUPS, "RoutingGroup")(choices=GROUPS)
    target_s = serializers.IntegerField()
    data = ServiceLevelOut(many=True)  # type: ignore[assignment]


# -- rendering -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def queue_node(queue: Queue) -> dict[str, Any]:
    return {
        "id": queue.pk,
        "name": queue.name,
        "priority": queue.priority,
        "language": queue.language,
        "skills": {qs.skill.name: qs.min_proficiency for qs in queue.skills.all()},
        "number_ids": sorted(n.pk for n in queue.numbers.all()),
        "sla_policy_id": queue.sla_id,
        "is_default": queue.is_default,
        "offer_timeout_s": queue.offer_timeout_s,
        "escalate_after_s": queue.escalate_after_s,
        "max_priority": queue.max_priority,
        "created_at": _iso(queue.created_at),
    }


def agent_node(person: StaffUser, agent: Agent | None, row: AgentRow | None) -> dict[str, Any]:
    """An agent's routing profile, status and presence; the defaults while they have none."""
    return {
        "id": person.pk,
        "name": person.full_name,
        "role": person.role,
        "team": agent.team if agent else "",
        "capacity": agent.capacity if agent else DEFAULT_CAPACITY,
        "load": agent.load if agent else 0,
        "status": agent.status if agent else Agent.Status.OFFLINE.value,
        "status_reason": agent.status_reason if agent else "",
        "presence": row.presence if row else "offline",
        "languages": list(agent.languages or []) if agent else [],
        "skills": {s.skill.name: s.proficiency for s in agent.skills.all()} if agent else {},
        "open_sessions": row.open_sessions if row else 0,
        "unanswered": row.unanswered if row else 0,
        "last_seen_at": _iso(agent.last_seen_at) if agent else None,
        "last_assigned_at": _iso(agent.last_assigned_at) if agent else None,
    }


def session_node(session: Session) -> dict[str, Any]:
    return {
        "id": session.pk,
        "conversation_id": session.conversation_id,
        "customer": session.conversation.customer,
        "queue_id": session.queue_id,
        "queue": session.queue.name,
        "state": session.state,
        "agent_id": session.agent.user_id if session.agent else None,
        "priority": session.priority,
        "language": session.language,
        "labels": list(session.labels or []),
        "unread": session.unread,
        "transfers": session.transfers,
        "opened_at": _iso(session.opened_at),
        "waiting_since": _iso(session.waiting_since),
        "assigned_at": _iso(session.assigned_at),
        "accepted_at": _iso(session.accepted_at),
        "first_response_at": _iso(session.first_response_at),
        "awaiting_since": _iso(session.awaiting_since),
        "closed_at": _iso(session.closed_at),
    }


def stats_node(q: QueueStats) -> dict[str, Any]:
    return {
        "queue_id": q.queue_id,
        "name": q.name,
        "priority": q.priority,
        "waiting": q.waiting,
        "offered": q.offered,
        "active": q.active,
        "longest_waiting_s": q.longest_waiting_s,
        "eligible_agents": q.eligible_agents,
        "available_agents": q.available_agents,
        "load": q.load,
        "capacity": q.capacity,
    }


def agent_summary(rows: list[AgentRow]) -> dict[str, Any]:
    by_status = dict.fromkeys(STATUSES, 0)
    by_presence = {"online": 0, "idle": 0, "offline": 0}
    for row in rows:
        by_status[row.agent.status] = by_status.get(row.agent.status, 0) + 1
        by_presence[row.presence] = by_presence.get(row.presence, 0) + 1
    return {
        "total": len(rows),
        "by_status": by_status,
        "by_presence": by_presence,
        "load": sum(r.agent.load for r in rows),
        "capacity": sum(r.agent.capacity for r in rows),
        "unanswered": sum(r.unanswered for r in rows),
    }


def level_node(level: ServiceLevel) -> dict[str, Any]:
    return {
        "key": level.key,
        "label": level.label,
        "sessions": level.sessions,
        "answered": level.answered,
        "abandoned": level.abandoned,
        "first_response_avg_s": level.first_response_avg_s,
        "first_response_p50_s": level.first_response_p50_s,
        "first_response_p90_s": level.first_response_p90_s,
        "within_target": level.within_target,
        "within_24h": level.within_24h,
        "waiting_avg_s": level.waiting_avg_s,
    }


# -- helpers ---------------------------------------------------------------------------------


def acting_user(request: Request, *needed: Capability) -> StaffUser:
    """Whom routing's actions record as acting: the signed-in staff member, or the token's
    creator, who must still be an active member of the business holding `needed`."""
    user = request.user
    if isinstance(user, StaffUser):
        return user
    assert isinstance(user, ApiClient)
    creator = user.token.created_by
    if (
        creator is None
        or not creator.is_active
        or creator.business_id != user.business.pk
        or not all(creator.can(c) for c in needed)
    ):
        raise PermissionDenied(
            "(#10) This access token's creator is no longer an active member allowed to do "
            "this; create a new token."
        )
    return creator


def _id(raw: str, what: str) -> int:
    if not re.fullmatch(ID_PATTERN, raw, flags=re.ASCII):
        raise NotFound(f"Unsupported request. The {what} '{safe_text(raw, 40)}' does not exist.")
    return int(raw)


def _queue(request: Request, queue_id: str) -> Queue:
    found = (
        list_queues(business_of(request).pk)
        .prefetch_related("skills__skill", "numbers")
        .filter(pk=_id(queue_id, "queue"))
        .first()
    )
    if found is None:
        raise NotFound(
            f"Unsupported request. The queue '{safe_text(queue_id, 40)}' does not exist."
        )
    return found


def _person(request: Request, agent_id: str) -> StaffUser:
    """An active agent or supervisor of the business (another business's is not found)."""
    found = (
        list_staff(business_of(request), status="active")
        .filter(role__in=ROUTED_ROLES, pk=_id(agent_id, "agent"))
        .first()
    )
    if found is None:
        raise NotFound(
            f"Unsupported request. The agent '{safe_text(agent_id, 40)}' does not exist."
        )
    return found


def _agent_of(person: StaffUser) -> tuple[Agent | None, AgentRow | None]:
    agent = list_agents(person.business_id).prefetch_related("skills__skill").filter(user=person)
    found = agent.first()
    if found is None:
        return None, None
    row = next((r for r in agent_rows(person.business_id) if r.agent.pk == found.pk), None)
    return found, row


def _session(request: Request, session_id: str) -> Session:
    found = get_session(business_of(request).pk, _id(session_id, "session"))
    if found is None:
        raise NotFound(
            f"Unsupported request. The session '{safe_text(session_id, 40)}' does not exist."
        )
    return found


def _query(name: str, description: str, **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **extra
    )


QUEUE_ID = _id_parameter("queue_id", "The queue's id.")
AGENT_ID = _id_parameter("agent_id", "The agent's staff user id.")
SESSION_ID = _id_parameter("session_id", "The session's id.")


# -- views -----------------------------------------------------------------------------------


class RoutingView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.SUPERVISE_QUEUES)]
    pagination_class: ClassVar[type[BasePagination] | None] = None


class NewestFirstPagination(MetaCursorPagination):
    newest_first = True


class QueuesView(RoutingView):
    pagination_class = MetaCursorPagination
    error_statuses = (409,)  # a queue of that name exists

    @extend_schema(
        operation_id="parley_v1_routing_queues_list",
        summary="The business's queues",
        responses=QueueOut(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = list_queues(business_of(request).pk).prefetch_related("skills__skill", "numbers")
        page, paginator = self.paginate(rows, request)
        return paginator.get_paginated_response([queue_node(q) for q in page])

    @extend_schema(
        operation_id="parley_v1_routing_queues_create",
        summary="Create a queue",
        request=QueueIn,
        responses={201: QueueOut},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(QueueIn, request)
        queue = do_save_queue(
            acting_user(request, Capability.SUPERVISE_QUEUES),
            name=data["name"],
            priority=data.get("priority", 0),
            language=data.get("language", ""),
            skills=data.get("skills") or {},
            number_ids=data.get("number_ids") or [],
            sla_policy_id=data.get("sla_policy_id"),
            is_default=data.get("is_default", False),
            offer_timeout_s=data.get("offer_timeout_s", 60),
            escalate_after_s=data.get("escalate_after_s", 300),
            max_priority=data.get("max_priority", 10),
        )
        return Response(queue_node(_queue(request, str(queue.pk))), status=201)


class QueueView(RoutingView):
    error_statuses = (409,)

    @extend_schema(
        operation_id="parley_v1_routing_queue_read",
        summary="One queue",
        parameters=[QUEUE_ID],
        responses=QueueOut,
    )
    def get(self, request: Request, queue_id: str) -> Response:
        return Response(queue_node(_queue(request, queue_id)))

    @extend_schema(
        operation_id="parley_v1_routing_queue_update",
        summary="Change a queue (fields left out keep their values)",
        parameters=[QUEUE_ID],
        request=QueueUpdateIn,
        responses=QueueOut,
    )
    def patch(self, request: Request, queue_id: str) -> Response:
        queue = _queue(request, queue_id)  # 404 before the body is judged
        data = self.valid(QueueUpdateIn, request)
        current = queue_node(queue)
        do_save_queue(
            acting_user(request, Capability.SUPERVISE_QUEUES),
            name=data.get("name", queue.name),
            priority=data.get("priority", queue.priority),
            language=data.get("language", queue.language),
            skills=data["skills"] if "skills" in data else current["skills"],
            number_ids=data["number_ids"] if "number_ids" in data else current["number_ids"],
            sla_policy_id=data.get("sla_policy_id", queue.sla_id),
            is_default=data.get("is_default", queue.is_default),
            offer_timeout_s=data.get("offer_timeout_s", queue.offer_timeout_s),
            escalate_after_s=data.get("escalate_after_s", queue.escalate_after_s),
            max_priority=data.get("max_priority", queue.max_priority),
            queue_id=queue.pk,
        )
        return Response(queue_node(_queue(request, queue_id)))


class AgentsView(RoutingView):
    pagination_class = MetaCursorPagination

    @extend_schema(
        operation_id="parley_v1_routing_agents_list",
        summary="Agents with a routing profile: status, presence, load, skills",
        responses=AgentOut(many=True),
    )
    def get(self, request: Request) -> Response:
        business_id = business_of(request).pk
        agents = list_agents(business_id).prefetch_related("skills__skill")
        page, paginator = self.paginate(agents, request)
        rows = {r.agent.pk: r for r in agent_rows(business_id)} if page else {}
        return paginator.get_paginated_response(
            [agent_node(a.user, a, rows.get(a.pk)) for a in page]
        )


class AgentView(RoutingView):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "PATCH":
            return [capability(Capability.MANAGE_AGENTS)()]
        return super().get_permissions()

    @extend_schema(
        operation_id="parley_v1_routing_agent_read",
        summary="One agent (the defaults while they have no routing profile)",
        parameters=[AGENT_ID],
        responses=AgentOut,
    )
    def get(self, request: Request, agent_id: str) -> Response:
        person = _person(request, agent_id)
        return Response(agent_node(person, *_agent_of(person)))

    @extend_schema(
        operation_id="parley_v1_routing_agent_update",
        summary="Change an agent's capacity, skills, languages, team or status",
        parameters=[AGENT_ID],
        request=AgentUpdateIn,
        responses=AgentOut,
    )
    def patch(self, request: Request, agent_id: str) -> Response:
        person = _person(request, agent_id)
        data = self.valid(AgentUpdateIn, request)
        status = data.pop("status", None)
        # Setting a status is supervising queues, beyond managing the profile.
        supervise = capability(Capability.SUPERVISE_QUEUES)()
        if status is not None and not supervise.has_permission(request, self):
            raise PermissionDenied("(#10) Setting an agent's status needs supervise_queues.")
        actor = acting_user(
            request,
            Capability.MANAGE_AGENTS,
            *([Capability.SUPERVISE_QUEUES] if status is not None else []),
        )
        if status is not None and person != actor and status not in SUPERVISOR_STATUSES:
            raise InvalidParameter(
                "(#100) Invalid parameter: another agent may be set away or offline; agents "
                "make themselves available.",
                field="status",
            )
        if data:
            do_update_agent(
                actor,
                person,
                capacity=data.get("capacity"),
                languages=data.get("languages"),
                team=data.get("team"),
                skills=data.get("skills"),
            )
        if status is not None:
            do_set_agent_status(actor, status, agent_user=person)
        return Response(agent_node(person, *_agent_of(person)))


class SessionsView(RoutingView):
    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="parley_v1_routing_sessions_list",
        summary="Service sessions, newest first",
        parameters=[
            _query(
                "state",
                "open (waiting, offered, active, snoozed) or one state.",
                enum=STATE_FILTERS,
            ),
            _query("queue_id", "Only this queue's.", pattern=f"^{ID_PATTERN}$"),
            _query(
                "agent_id", "Only those held by this agent (user id).", pattern=f"^{ID_PATTERN}$"
            ),
        ],
        responses=SessionOut(many=True),
    )
    def get(self, request: Request) -> Response:
        state = query_text(
            request, "state", "|".join(STATE_FILTERS), hint="must be open or a session state"
        )
        queue_id = query_int(request, "queue_id", default=-1, minimum=1)
        agent_id = query_int(request, "agent_id", default=-1, minimum=1)
        rows = search_sessions(
            business_of(request).pk,
            states=list(Session.OPEN_STATES) if state == "open" else ([state] if state else None),
            queue_id=queue_id if queue_id > 0 else None,
            agent_user_id=agent_id if agent_id > 0 else None,
        )
        page, paginator = self.paginate(rows, request)
        return paginator.get_paginated_response([session_node(s) for s in page])


class SessionTransferView(RoutingView):
    error_statuses = (409,)  # the agent is offline or at capacity

    @extend_schema(
        operation_id="parley_v1_routing_session_transfer",
        summary="Transfer a session to an agent (within their capacity) or to a queue",
        parameters=[SESSION_ID],
        request=TransferIn,
        responses=SessionOut,
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = _session(request, session_id)
        data = self.valid(TransferIn, request)
        do_transfer_session(
            acting_user(request, Capability.SUPERVISE_QUEUES),
            session.pk,
            to_agent_user_id=data.get("to_agent_id"),
            to_queue_id=data.get("to_queue_id"),
            note=data.get("note", ""),
        )
        return Response(session_node(_session(request, session_id)))


class SessionResolveView(RoutingView):
    @extend_schema(
        operation_id="parley_v1_routing_session_resolve",
        summary="Resolve a session (its agent's capacity pulls the oldest waiting at once)",
        parameters=[SESSION_ID],
        request=None,
        responses=SessionOut,
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = _session(request, session_id)
        do_resolve_session(acting_user(request, Capability.SUPERVISE_QUEUES), session.pk)
        return Response(session_node(_session(request, session_id)))


class StatsView(RoutingView):
    @extend_schema(
        operation_id="parley_v1_routing_stats",
        summary="Live queue statistics and a summary of the agents",
        responses=StatsOut,
    )
    def get(self, request: Request) -> Response:
        business_id = business_of(request).pk
        now = clock.now()
        return Response(
            {
                "at": _iso(now),
                "queues": [stats_node(q) for q in queue_stats(business_id, now)],
                "agents": agent_summary(agent_rows(business_id, now)),
            }
        )


class ServiceLevelsView(RoutingView):
    @extend_schema(
        operation_id="parley_v1_routing_service_levels",
        summary="Service levels of the sessions opened in a period, grouped",
        parameters=[
            _query("since", "Opened at or after: Unix time or ISO 8601 (default: today, UTC)."),
            _query("until", "Opened before: Unix time or ISO 8601 (default: now)."),
            _query("by", "Group by queue, agent, team or all (default: queue).", enum=GROUPS),
            _query(
                "target_s",
                "The first-response target in seconds (default 30).",
                pattern=r"^[0-9]{1,5}$",
            ),
        ],
        responses=ServiceLevelsOut,
    )
    def get(self, request: Request) -> Response:
        now = clock.now()
        until = query_time(request, "until") or now
        since = query_time(request, "since") or now.replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        if since >= until:
            raise InvalidParameter(
                "(#100) Invalid parameter: since must be before until.", field="since"
            )
        if until - since > MAX_SPAN:
            raise InvalidParameter(
                "(#100) Invalid parameter: a period is at most 31 days.", field="since"
            )
        by = query_text(request, "by", "|".join(GROUPS), hint="must be queue, agent, team or all")
        target_s = query_int(request, "target_s", default=30, minimum=1, maximum=86400)
        levels = service_levels(
            business_of(request).pk, since=since, until=until, by=by or "queue", target_s=target_s
        )
        return Response(
            {
                "since": _iso(since),
                "until": _iso(until),
                "by": by or "queue",
                "target_s": target_s,
                "data": [level_node(level) for level in levels],
            }
        )
