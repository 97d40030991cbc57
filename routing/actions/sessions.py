"""Sessions through their life: opened by a customer's message, queued, offered to the most
suitable agent, accepted or answered, transferred, snoozed, resolved or abandoned.

Claims are atomic in the database: waiting sessions are taken with `FOR UPDATE SKIP LOCKED`
and an agent's load rises only by a conditional update (`load < capacity` and available),
so no session is offered twice and no agent is overloaded, however many processes route
at once. Every change publishes its events on the durable stream in the same transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import phonenumbers
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.bulk import insert_returning, insert_rows, update_rows
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.core.events import (
    ConversationAssigned,
    ConversationUnassigned,
    MessageReceived,
    SessionRouted,
)
from parley.core.publish import publish, publish_many
from parley.messaging.models import Conversation
from routing import index
from routing.models import Agent, Queue, QueueSkill, RoutingRule, Session, SessionLog
from routing.rules import Decision, Inbound, Rule, decide
from routing.strategy import Requirement

DEFAULT_QUEUE = "General"
ROUTE_BATCH = 200
CLAIM_TRIES = 3

State = Session.State


@dataclasses.dataclass
class Context:
    """What routing reads once per business and pass (a consumer batch, a routing round)
    instead of once per session: queues, which number goes to which, rules, requirements."""

    business_id: int
    queues: dict[int, Queue]
    number_queues: dict[int, int]
    rules: list[Rule]
    requirements: dict[int, tuple[frozenset[tuple[str, int]], str]]

    @classmethod
    def load(cls, business_id: int) -> Context:
        queues = {q.pk: q for q in Queue.objects.filter(business_id=business_id)}
        number_queues: dict[int, int] = {}
        for queue_id, number_id in Queue.numbers.through.objects.filter(
            queue__business_id=business_id
        ).values_list("queue_id", "phonenumber_id"):
            number_queues.setdefault(number_id, queue_id)
        return cls(
            business_id, queues, number_queues, _rules(business_id),
            queue_requirements(business_id, queues),
        )  # fmt: skip

    def queue(self, queue_id: int) -> Queue:
        found = self.queues.get(queue_id)
        if found is None:
            found = self.queues[queue_id] = Queue.objects.get(pk=queue_id)
        return found

    def default(self, number_id: int | None = None) -> Queue:
        """The queue of a number (one that lists it), else the business's default queue
        (made on first use)."""
        if number_id is not None and number_id in self.number_queues:
            return self.queue(self.number_queues[number_id])
        for queue in self.queues.values():
            if queue.is_default:
                return queue
        queue, _ = Queue.objects.get_or_create(
            business_id=self.business_id,
            name=DEFAULT_QUEUE,
            defaults={"is_default": True, "created_at": clock.now()},
        )
        self.queues[queue.pk] = queue
        self.requirements.setdefault(queue.pk, (frozenset(), queue.language))
        return queue


# -- agents' load ------------------------------------------------------------------------


_CLAIM_SQL = """
UPDATE routing_agent SET load = load + 1, last_assigned_at = %s, touched_at = %s
WHERE id = (
    SELECT id FROM routing_agent
    WHERE id = %s AND load < capacity AND {status}
    FOR UPDATE SKIP LOCKED
)"""


def claim_agent(agent_id: int, now: dt.datetime, *, any_status: bool = False) -> bool:
    """Take one unit of the agent's capacity, if they have it (and are available).

    Never waits: an agent row another transaction holds counts as taken for now (the
    caller tries the next agent). Whoever holds agents' rows therefore never blocks, so
    routers, resolutions and sweeps cannot deadlock. The capacity condition is on the
    locked row itself, which PostgreSQL re-checks against the latest version."""
    status = "status <> 'offline'" if any_status else "status = 'available'"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL.format(status=status), [now, timezone.now(), agent_id])
            return cursor.rowcount == 1
    # SQLite has no row locks: a write takes the whole database, one claim at a time.
    rows = Agent.objects.filter(pk=agent_id, load__lt=F("capacity"))
    if not any_status:
        rows = rows.filter(status=Agent.Status.AVAILABLE)
    else:
        rows = rows.exclude(status=Agent.Status.OFFLINE)
    return rows.update(load=F("load") + 1, last_assigned_at=now, touched_at=timezone.now()) == 1


_CLAIM_MANY_SQL = """
WITH wanted(id, n) AS (SELECT * FROM unnest(%s::int8[], %s::int4[])),
locked AS (
    SELECT a.id, a.load, w.n FROM routing_agent a JOIN wanted w ON a.id = w.id
    WHERE a.status = 'available' AND a.load < a.capacity
    FOR UPDATE OF a SKIP LOCKED
)
UPDATE routing_agent a
SET load = a.load + LEAST(l.n, a.capacity - a.load), last_assigned_at = %s, touched_at = %s
FROM locked l WHERE a.id = l.id
RETURNING a.id, a.load - l.load"""


def claim_agents(wanted: dict[int, int], now: dt.datetime) -> dict[int, int]:
    """`claim_agent` for many at once: up to `wanted[agent]` units of each available
    agent's capacity, in one statement; returns how many each gave. Like one claim it never
    waits: a row another transaction holds gives nothing now."""
    if not wanted:
        return {}
    if connection.vendor != "postgresql":
        granted: dict[int, int] = {}
        for agent_id, n in wanted.items():
            granted[agent_id] = 0
            while granted[agent_id] < n and claim_agent(agent_id, now):
                granted[agent_id] += 1
        return granted
    ids = list(wanted)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_MANY_SQL, [ids, [wanted[i] for i in ids], now, timezone.now()])
        return {int(agent_id): int(n) for agent_id, n in cursor.fetchall()}


def release_agent(agent_id: int) -> None:
    Agent.objects.filter(pk=agent_id, load__gt=0).update(
        load=F("load") - 1, touched_at=timezone.now()
    )


# -- events ------------------------------------------------------------------------------


def _user_of(agent_id: int | None) -> int | None:
    return index.user_of(agent_id)


def _routed_event(
    session: Session,
    change: str,
    *,
    at: dt.datetime,
    customer: str,
    queue: str,
    agent_user_id: int | None = None,
    previous_agent_user_id: int | None = None,
    reason: str = "",
) -> SessionRouted:
    return SessionRouted(
        business_id=session.business_id,
        occurred_at=at,
        session_id=session.pk,
        conversation_id=session.conversation_id,
        customer=customer,
        queue_id=session.queue_id,
        queue=queue,
        state=session.state,
        change=change,
        agent_user_id=agent_user_id,
        previous_agent_user_id=previous_agent_user_id,
        reason=reason,
    )


def _routed(session: Session, change: str, **fields: Any) -> None:
    publish(_routed_event(session, change, **fields))


def _log(
    session: Session,
    kind: str,
    at: dt.datetime,
    *,
    agent_id: int | None = None,
    actor: StaffUser | None = None,
    note: str = "",
) -> None:
    SessionLog.objects.create(
        session=session,
        kind=kind,
        at=at,
        agent_id=agent_id,
        actor=actor,
        queue_id=session.queue_id,
        note=note,
    )


_LOG_COLUMNS = ("session_id", "kind", "at", "agent_id", "actor_id", "queue_id", "note")
_ATTNAMES = {"agent": "agent_id", "queue": "queue_id", "conversation": "conversation_id"}


@dataclasses.dataclass
class Writes:
    """Rows and events a pass over many sessions writes at its end, a statement each
    instead of a statement per session."""

    new_sessions: list[Session] = dataclasses.field(default_factory=list)
    changed: dict[int, tuple[Session, set[str]]] = dataclasses.field(default_factory=dict)
    logs: list[SessionLog] = dataclasses.field(default_factory=list)
    events: list[Any] = dataclasses.field(default_factory=list)

    def change(self, session: Session, *fields: str) -> None:
        held = self.changed.setdefault(session.pk, (session, set()))
        held[1].update(fields)

    def flush(self) -> None:
        by_fields: dict[tuple[str, ...], list[Session]] = {}
        for session, fields in self.changed.values():
            by_fields.setdefault(tuple(sorted(fields)), []).append(session)
        for names, sessions in by_fields.items():
            columns = [_ATTNAMES.get(n, n) for n in names]
            update_rows(Session, columns, [[s.pk, *(getattr(s, c) for c in columns)]
                                           for s in sessions])  # fmt: skip
        insert_rows(
            SessionLog,
            _LOG_COLUMNS,
            [[getattr(log, c) for c in _LOG_COLUMNS] for log in self.logs],
        )
        publish_many(self.events)
        self.changed.clear()
        self.logs.clear()
        self.events.clear()


def _customer_and_queue(session: Session) -> tuple[str, str]:
    customer = Conversation.objects.filter(pk=session.conversation_id).values_list(
        "customer", flat=True
    )
    queue = Queue.objects.filter(pk=session.queue_id).values_list("name", flat=True)
    return customer.first() or "", queue.first() or ""


# -- opening -----------------------------------------------------------------------------


def _country(e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _button(event: MessageReceived) -> str:
    if event.content_type not in ("interactive_reply", "button"):
        return ""
    try:
        data = json.loads(event.content_json)
    except ValueError:
        return ""
    for key in ("payload", "id", "title", "text"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str) and value:
            return value
    return ""


def _rules(business_id: int) -> list[Rule]:
    return [
        Rule(r.kind, r.value, r.queue_id, r.priority, r.language)
        for r in RoutingRule.objects.filter(business_id=business_id)
    ]


def _queue_for(event: MessageReceived, decision: Decision, ctx: Context) -> Queue:
    if decision.queue_id is not None and decision.queue_id in ctx.queues:
        return ctx.queues[decision.queue_id]
    return ctx.default(event.number_id)


def record_inbound_batch(events: list[MessageReceived], ctx: Context) -> int:
    """`record_inbound` for a consumer's batch of one business's customer messages: the
    open sessions read in one statement, new ones inserted in one, their log rows and
    events in one each. Returns how many sessions were opened."""
    ids = {e.conversation_id for e in events}
    open_now = {
        s.conversation_id: s
        for s in Session.objects.select_for_update().filter(
            conversation_id__in=ids, state__in=Session.OPEN_STATES
        )
    }
    writes = Writes()
    fresh: dict[int, tuple[Session, MessageReceived]] = {}
    for event in events:
        session = open_now.get(event.conversation_id)
        if session is None and event.conversation_id in fresh:
            session = fresh[event.conversation_id][0]
        if session is None:
            fresh[event.conversation_id] = (_new_session(event, ctx), event)
            continue
        at = event.occurred_at
        session.unread += 1
        session.last_inbound_at = at
        if session.awaiting_since is None:
            session.awaiting_since = at
        if session.pk is None:
            continue  # opened in this batch: inserted below with these counts
        writes.change(session, "unread", "last_inbound_at", "awaiting_since")
        if session.state == State.SNOOZED:
            _wake(session, at, customer=event.customer)
            writes.change(session, "state", "waiting_since", "snoozed_until", "agent")
    created = _insert_sessions([s for s, _ in fresh.values()])
    for session, (_, event) in zip(created, fresh.values(), strict=True):
        queue = ctx.queue(session.queue_id)
        writes.logs.append(SessionLog(session=session, kind="queued", at=session.opened_at,
                                      queue_id=session.queue_id))  # fmt: skip
        writes.events.append(_routed_event(session, "queued", at=session.opened_at,
                                           customer=event.customer, queue=queue.name))  # fmt: skip
    writes.flush()
    return len(created)


_SESSION_COLUMNS = tuple(f.attname for f in Session._meta.concrete_fields if not f.primary_key)


def _insert_sessions(sessions: list[Session]) -> list[Session]:
    """Insert new sessions in one statement; each gets its primary key."""
    ids = insert_returning(
        Session, _SESSION_COLUMNS, [[getattr(s, c) for c in _SESSION_COLUMNS] for s in sessions]
    )
    for session, pk in zip(sessions, ids, strict=True):
        session.pk = pk
        session._state.adding = False
        session._state.db = connection.alias
    return sessions


def _new_session(event: MessageReceived, ctx: Context) -> Session:
    # Only a country rule reads the customer's country (parsing the number is not free).
    wants_country = any(rule.kind == "country" for rule in ctx.rules)
    inbound = Inbound(
        text=event.text,
        button=_button(event),
        country=_country(event.customer) if wants_country else "",
        number_id=event.number_id,
    )
    decision = decide(ctx.rules, inbound)
    queue = _queue_for(event, decision, ctx)
    at = event.occurred_at
    priority = min(queue.priority + decision.priority, max(queue.max_priority, queue.priority))
    return Session(
        business_id=event.business_id,
        conversation_id=event.conversation_id,
        queue=queue,
        state=State.WAITING,
        base_priority=priority,
        priority=priority,
        language=decision.language or queue.language,
        unread=1,
        opened_at=at,
        waiting_since=at,
        last_inbound_at=at,
        awaiting_since=at,
    )


def _wake(session: Session, at: dt.datetime, *, customer: str) -> None:
    """A snoozed session goes back to its queue (it held no capacity while snoozed)."""
    session.state = State.WAITING
    session.waiting_since = at
    session.snoozed_until = None
    previous = session.agent_id
    session.agent = None
    _log(session, "woken", at, agent_id=previous)
    queue = Queue.objects.filter(pk=session.queue_id).values_list("name", flat=True).first()
    _routed(
        session,
        "woken",
        at=at,
        customer=customer,
        queue=queue or "",
        previous_agent_user_id=_user_of(previous),
    )


def record_responses(answers: list[tuple[int, dt.datetime]]) -> list[Session]:
    """The business answered customers (from the console or the API), each answer a
    conversation and when, in order: the first and last response times; an offer answered
    is accepted. One read for all of them (most of the business's messages go to
    conversations no session holds). Returns the sessions changed."""
    from routing.actions.sla import record_late_first_response

    if not answers:
        return []
    sessions = {
        s.conversation_id: s
        for s in Session.objects.select_for_update(of=("self",))
        .select_related("queue__sla")  # each first response is checked against its SLA
        .filter(conversation_id__in=sorted({c for c, _ in answers}), state__in=Session.OPEN_STATES)
        .order_by("pk")
    }
    changed: dict[int, Session] = {}
    for conversation_id, at in answers:
        session = sessions.get(conversation_id)
        if session is None:
            continue
        changed[session.pk] = session
        session.last_response_at = at
        session.awaiting_since = None
        session.unread = 0
        if session.first_response_at is None:
            session.first_response_at = at
            record_late_first_response(session, at, session.queue.sla)
        if session.state == State.OFFERED:
            _accept(session, at, actor=None)
    # One statement for them all (the rows are locked: unchanged columns keep their values).
    update_rows(
        Session,
        _ANSWERED,
        [(s.pk, *(getattr(s, column) for column in _ANSWERED)) for s in changed.values()],
    )
    return list(changed.values())


# What answering a session changes.
_ANSWERED = ["last_response_at", "awaiting_since", "unread", "first_response_at", "state",
             "accepted_at", "offer_expires_at"]  # fmt: skip


# -- routing -----------------------------------------------------------------------------


def queue_requirements(
    business_id: int, queues: dict[int, Queue] | None = None
) -> dict[int, tuple[frozenset[tuple[str, int]], str]]:
    """Each queue's required skills (with minimum proficiency) and language."""
    if queues is None:
        queues = {q.pk: q for q in Queue.objects.filter(business_id=business_id)}
    skills: dict[int, set[tuple[str, int]]] = {pk: set() for pk in queues}
    languages = {pk: q.language for pk, q in queues.items()}
    for queue_id, name, minimum in QueueSkill.objects.filter(
        queue__business_id=business_id
    ).values_list("queue_id", "skill__name", "min_proficiency"):
        skills.setdefault(queue_id, set()).add((name, minimum))
    return {pk: (frozenset(s), languages.get(pk, "")) for pk, s in skills.items()}


def requirement_of(
    session: Session, queues: dict[int, tuple[frozenset[tuple[str, int]], str]]
) -> Requirement:
    skills, language = queues.get(session.queue_id, (frozenset(), ""))
    return Requirement(skills=skills, language=session.language or language)


def do_route_waiting(business_id: int, *, limit: int = ROUTE_BATCH,
                     ctx: Context | None = None) -> int:  # fmt: skip
    """Offer the business's waiting sessions, highest priority and longest waiting first,
    each to the most suitable available agent with capacity, until none is left that an
    agent can take. Returns how many were offered. Sessions another process holds are
    skipped (it is routing them). Once no available agent has room, no session is read:
    a backlog waiting for full agents costs nothing per customer message."""
    now = clock.now()
    offered = 0
    unmet: set[Requirement] = set()
    seen: set[int] = set()
    writes = Writes()
    with transaction.atomic():
        ctx = ctx or Context.load(business_id)
        strategy = index.index_for(business_id)
        while strategy.has_room():
            page = list(
                Session.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(business_id=business_id, state=State.WAITING)
                .exclude(pk__in=seen)
                .annotate(customer=F("conversation__customer"))
                .order_by("-priority", "waiting_since", "id")[:limit]
            )
            customers = {s.pk: s.customer for s in page}
            waiting: list[Session] = [*page]
            # Choose for the whole page in memory (each choice counting the ones before),
            # claim every chosen agent's capacity in one statement, then settle the few
            # the database refused one by one.
            chosen: list[tuple[Session, int]] = []
            retry: list[Session] = []
            for session in waiting:
                seen.add(session.pk)
                requirement = requirement_of(session, ctx.requirements)
                if requirement in unmet:
                    continue
                agent_id = strategy.choose(requirement)
                if agent_id is None:
                    unmet.add(requirement)
                    continue
                try:
                    strategy.assign(agent_id, now.timestamp())
                except (KeyError, ValueError):
                    index.reread_agent(business_id, agent_id)
                    retry.append(session)
                    continue
                chosen.append((session, agent_id))
            wanted: dict[int, int] = {}
            for _, agent_id in chosen:
                wanted[agent_id] = wanted.get(agent_id, 0) + 1
            granted = claim_agents(wanted, now)
            for agent_id in wanted:
                if granted.get(agent_id, 0) < wanted[agent_id]:
                    index.reread_agent(business_id, agent_id)  # they disagree: take the row
            for session, agent_id in chosen:
                if granted.get(agent_id, 0) <= 0:
                    retry.append(session)
                    continue
                granted[agent_id] -= 1
                offer(session, agent_id, now, reason="requeue" if session.transfers else "new",
                      customer=customers[session.pk], ctx=ctx, writes=writes)  # fmt: skip
                offered += 1
            for session in retry:
                requirement = requirement_of(session, ctx.requirements)
                if requirement in unmet:
                    continue
                found = _claim_for(business_id, strategy, requirement, now)
                if found is None:
                    unmet.add(requirement)
                    continue
                offer(session, found, now, reason="requeue" if session.transfers else "new",
                      customer=customers[session.pk], ctx=ctx, writes=writes)  # fmt: skip
                offered += 1
            writes.flush()
            if len(waiting) < limit:
                break
    return offered


def _claim_for(
    business_id: int, strategy: index.Strategy, requirement: Requirement, now: dt.datetime
) -> int | None:
    for _ in range(CLAIM_TRIES):
        agent_id = strategy.choose(requirement)
        if agent_id is None:
            return None
        if claim_agent(agent_id, now):
            try:
                strategy.assign(agent_id, now.timestamp())
            except (KeyError, ValueError):
                index.reread_agent(business_id, agent_id)
            return agent_id
        index.reread_agent(business_id, agent_id)  # the index and the database disagree
    return None


def offer(
    session: Session,
    agent_id: int,
    now: dt.datetime,
    *,
    reason: str,
    note: str = "",
    actor: StaffUser | None = None,
    customer: str | None = None,
    ctx: Context | None = None,
    writes: Writes | None = None,
) -> None:
    """Offer a waiting session to an agent whose capacity was already claimed (with
    `writes`, its rows and events are written when the caller flushes them)."""
    queue = (ctx or Context.load(session.business_id)).queue(session.queue_id)
    session.state = State.OFFERED
    session.agent_id = agent_id
    session.offered_at = now
    session.offer_expires_at = now + dt.timedelta(seconds=queue.offer_timeout_s)
    if session.assigned_at is None:
        session.assigned_at = now
    if customer is None:
        customer = Conversation.objects.filter(pk=session.conversation_id).values_list(
            "customer", flat=True
        )[0]
    user_id = _user_of(agent_id)
    log = SessionLog(session=session, kind="offered", at=now, agent_id=agent_id, actor=actor,
                     queue_id=session.queue_id, note=note)  # fmt: skip
    events = [
        _routed_event(
            session,
            "offered",
            at=now,
            customer=customer,
            queue=queue.name,
            agent_user_id=user_id,
            reason=reason,
        ),
        ConversationAssigned(
            business_id=session.business_id,
            occurred_at=now,
            user_id=user_id,
            session_id=session.pk,
            conversation_id=session.conversation_id,
            customer=customer,
            queue=queue.name,
            reason=reason,
            offer_expires_at=session.offer_expires_at,
            note=note,
        ),
    ]
    fields = ("state", "agent", "offered_at", "offer_expires_at", "assigned_at")
    if writes is not None:
        writes.change(session, *fields)
        writes.logs.append(log)
        writes.events += events
        return
    session.save(update_fields=list(fields))
    log.save()
    publish_many(events)


def _accept(session: Session, at: dt.datetime, *, actor: StaffUser | None) -> None:
    session.state = State.ACTIVE
    session.accepted_at = at
    session.offer_expires_at = None
    _log(session, "accepted", at, agent_id=session.agent_id, actor=actor)
    customer, queue = _customer_and_queue(session)
    _routed(
        session, "accepted", at=at, customer=customer, queue=queue,
        agent_user_id=_user_of(session.agent_id),
    )  # fmt: skip


def return_to_queue(session: Session, at: dt.datetime, *, reason: str) -> None:
    """Take a session back from its agent (their capacity freed) and queue it again."""
    previous = session.agent_id
    held = session.state in Session.HELD_STATES
    session.state = State.WAITING
    session.agent = None
    session.waiting_since = at
    session.offer_expires_at = None
    session.transfers += 1
    session.save(update_fields=["state", "agent", "waiting_since", "offer_expires_at",
                                "transfers"])  # fmt: skip
    if previous is not None and held:
        release_agent(previous)
    _log(session, "returned", at, agent_id=previous, note=reason)
    _unassigned(session, previous, at, reason)
    customer, queue = _customer_and_queue(session)
    _routed(
        session, "returned", at=at, customer=customer, queue=queue,
        previous_agent_user_id=_user_of(previous), reason=reason,
    )  # fmt: skip


def _unassigned(session: Session, agent_id: int | None, at: dt.datetime, reason: str) -> None:
    user_id = _user_of(agent_id)
    if user_id is None:
        return
    publish(
        ConversationUnassigned(
            business_id=session.business_id,
            occurred_at=at,
            user_id=user_id,
            session_id=session.pk,
            conversation_id=session.conversation_id,
            reason=reason,
        )
    )


# -- what agents and supervisors do ------------------------------------------------------


def _session_for(actor: StaffUser, session_id: int) -> Session:
    session = (
        Session.objects.select_for_update()
        .filter(pk=session_id, business_id=actor.business_id)
        .first()
    )
    if session is None:
        raise NotFound("No such session.")
    return session


def _own_or_supervise(actor: StaffUser, session: Session) -> None:
    from parley.accounts.roles import Capability

    if actor.can(Capability.SUPERVISE_QUEUES):
        return
    mine = Agent.objects.filter(user=actor).values_list("pk", flat=True).first()
    if mine is None or session.agent_id != mine:
        raise PermissionDenied("This conversation is assigned to someone else.")


def do_accept_session(actor: StaffUser, session_id: int) -> Session:
    with transaction.atomic():
        session = _session_for(actor, session_id)
        _own_or_supervise(actor, session)
        if session.state != State.OFFERED:
            return session
        _accept(session, clock.now(), actor=actor)
        session.save(update_fields=["state", "accepted_at", "offer_expires_at"])
    return session


def do_take_session(actor: StaffUser, session_id: int) -> Session:
    """An agent picks a waiting conversation from the unassigned list (within capacity)."""
    now = clock.now()
    with transaction.atomic():
        session = _session_for(actor, session_id)
        agent = Agent.objects.filter(user=actor).first()
        if agent is None:
            raise InvalidParameter("Only agents take conversations.", field="session")
        if session.state != State.WAITING:
            raise Conflict("This conversation is no longer waiting.", field="session")
        if not claim_agent(agent.pk, now, any_status=True):
            raise Conflict("You are at capacity.", field="session")
        offer(session, agent.pk, now, reason="taken", actor=actor)
        _accept(session, now, actor=actor)
        session.save(update_fields=["state", "accepted_at", "offer_expires_at"])
    return session


def close_session(session: Session, at: dt.datetime, *, state: str, reason: str,
                  actor: StaffUser | None = None) -> None:  # fmt: skip
    """Resolve or abandon an open session, freeing its agent's capacity."""
    held = session.state in Session.HELD_STATES
    previous = session.agent_id
    session.state = state
    session.closed_at = at
    session.offer_expires_at = None
    session.save(update_fields=["state", "closed_at", "offer_expires_at"])
    if previous is not None and held:
        release_agent(previous)
    _log(session, state, at, agent_id=previous, actor=actor, note=reason)
    _unassigned(session, previous, at, state)
    customer, queue = _customer_and_queue(session)
    _routed(
        session, state, at=at, customer=customer, queue=queue,
        agent_user_id=_user_of(previous), reason=reason,
    )  # fmt: skip


def do_resolve_session(actor: StaffUser, session_id: int) -> Session:
    with transaction.atomic():
        session = _session_for(actor, session_id)
        _own_or_supervise(actor, session)
        if session.state not in Session.OPEN_STATES:
            return session
        close_session(session, clock.now(), state=State.RESOLVED, reason="resolved", actor=actor)
        business_id = session.business_id
    do_route_waiting(business_id)  # freed capacity pulls the oldest waiting at once
    return session


def do_snooze_session(actor: StaffUser, session_id: int, until: dt.datetime) -> Session:
    """Put a conversation aside until `until` or the customer's next message; it holds no
    capacity meanwhile and goes back to its queue when it wakes."""
    now = clock.now()
    if until <= now:
        raise InvalidParameter("Snooze until a time in the future.", field="until")
    with transaction.atomic():
        session = _session_for(actor, session_id)
        _own_or_supervise(actor, session)
        if session.state not in (State.OFFERED, State.ACTIVE, State.WAITING):
            raise InvalidParameter("Only an open conversation can be snoozed.", field="session")
        held = session.state in Session.HELD_STATES
        session.state = State.SNOOZED
        session.snoozed_until = until
        session.offer_expires_at = None
        session.save(update_fields=["state", "snoozed_until", "offer_expires_at"])
        if session.agent_id is not None and held:
            release_agent(session.agent_id)
        _log(session, "snoozed", now, agent_id=session.agent_id, actor=actor,
             note=until.isoformat())  # fmt: skip
        customer, queue = _customer_and_queue(session)
        _routed(session, "snoozed", at=now, customer=customer, queue=queue,
                agent_user_id=_user_of(session.agent_id))  # fmt: skip
        business_id = session.business_id
    do_route_waiting(business_id)
    return session


def do_transfer_session(
    actor: StaffUser,
    session_id: int,
    *,
    to_agent_user_id: int | None = None,
    to_queue_id: int | None = None,
    note: str = "",
) -> Session:
    """Hand a conversation to one agent (within their capacity) or to a queue, with a note
    the receiver sees."""
    if (to_agent_user_id is None) == (to_queue_id is None):
        raise InvalidParameter("Transfer to one agent or one queue.", field="to")
    if len(note) > 1000:
        raise InvalidParameter("The note is longer than 1000 characters.", field="note")
    now = clock.now()
    with transaction.atomic():
        session = _session_for(actor, session_id)
        _own_or_supervise(actor, session)
        if session.state not in Session.OPEN_STATES:
            raise InvalidParameter("This conversation is closed.", field="session")
        target: Agent | None = None
        if to_agent_user_id is not None:
            target = Agent.objects.filter(
                user_id=to_agent_user_id, business_id=actor.business_id
            ).first()
            if target is None:
                raise InvalidParameter("No such agent.", field="to_agent")
            if target.pk == session.agent_id:
                raise InvalidParameter("The conversation is theirs already.", field="to_agent")
        if to_queue_id is not None:
            queue = Queue.objects.filter(pk=to_queue_id, business_id=actor.business_id).first()
            if queue is None:
                raise InvalidParameter("No such queue.", field="to_queue")
            session.queue = queue
            session.save(update_fields=["queue"])
        if target is not None and not claim_agent(target.pk, now, any_status=True):
            raise Conflict("That agent is offline or at capacity.", field="to_agent")
        if session.state != State.WAITING:
            return_to_queue(session, now, reason="transfer")
        else:
            session.transfers += 1
            session.save(update_fields=["transfers"])
        _log(session, "transferred", now, actor=actor, note=note)
        if target is not None:
            offer(session, target.pk, now, reason="transfer", note=note, actor=actor)
        business_id = session.business_id
    do_route_waiting(business_id)
    return session
