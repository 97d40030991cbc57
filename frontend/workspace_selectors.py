"""Reads for the agents' workspace: the conversation list's rows, a thread's messages with
its private notes and transfer notes, the reply box's canned responses and templates, the
customer panel (country, language, past sessions, the safety number) and where a
conversation may be transferred. Read-only; every query is scoped to one business and
bounded; times are the simulation clock's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import phonenumbers
from phonenumbers import geocoder

from e2ee.models import IdentityChangeNotice, LocalDevice, PeerIdentity
from e2ee.protocol import PublicKey
from e2ee.protocol.fingerprint import safety_number
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.core import clock
from parley.message_templates import rules
from parley.message_templates.models import MessageTemplate
from parley.messaging.models import Conversation, Message
from routing.models import Agent, CannedResponse, Note, Queue, Session, SessionLog
from routing.selectors import get_agent, list_agents, list_past_sessions, list_sessions

SCOPES = ("mine", "unassigned", "all")
MAX_ROWS = 200
THREAD_MESSAGES = 100
MAX_TEMPLATE_PARAMETERS = 10


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the conversation list."""

    session: Session
    customer: str
    queue: str
    state: str
    unread: int
    labels: list[str]
    waiting_since: dt.datetime | None  # the customer's oldest unanswered message, or queued
    waiting_s: int | None
    mine: bool
    agent_name: str

    @property
    def conversation_id(self) -> int:
        return self.session.conversation_id

    @property
    def waiting_label(self) -> str:
        return duration_label(self.waiting_s) if self.waiting_s is not None else ""


def duration_label(seconds: int) -> str:
    """45s, 3m 12s, 2h 5m, 1d 3h: how long, in the two largest units."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
    return " ".join(parts[:2]) or "0s"


def _row(session: Session, user: StaffUser, now: dt.datetime) -> Row:
    since = session.awaiting_since
    if since is None and session.state == Session.State.WAITING:
        since = session.waiting_since
    agent = session.agent
    return Row(
        session=session,
        customer=session.conversation.customer,
        queue=session.queue.name,
        state=session.state,
        unread=session.unread,
        labels=[str(label) for label in (session.labels or [])],
        waiting_since=since,
        waiting_s=max(0, int((now - since).total_seconds())) if since else None,
        mine=agent is not None and agent.user_id == user.pk,
        agent_name=agent.user.full_name if agent is not None else "",
    )


def list_rows(user: StaffUser, scope: str, now: dt.datetime | None = None) -> list[Row]:
    """The list of one tab (mine, unassigned or all the user may see), at most MAX_ROWS."""
    now = now or clock.now()
    sessions = list_sessions(user, scope if scope in SCOPES else "mine")[:MAX_ROWS]
    return [_row(s, user, now) for s in sessions]


def get_row(user: StaffUser, session_id: int, scope: str = "all") -> Row | None:
    """One session's row if it is open and in the user's `scope` tab (None otherwise)."""
    found = list_sessions(user, scope if scope in SCOPES else "all").filter(pk=session_id).first()
    return _row(found, user, clock.now()) if found is not None else None


def get_row_of_conversation(user: StaffUser, conversation_id: int, scope: str) -> Row | None:
    found = (
        list_sessions(user, scope if scope in SCOPES else "all")
        .filter(conversation_id=conversation_id)
        .first()
    )
    return _row(found, user, clock.now()) if found is not None else None


@dataclasses.dataclass(frozen=True)
class AgentHeader:
    """The signed-in user's own routing state, for the workspace's header."""

    routed: bool  # the user's role takes conversations
    status: str
    status_reason: str
    load: int
    capacity: int


def agent_header(user: StaffUser) -> AgentHeader:
    from routing.actions.agents import ROUTED_ROLES
    from routing.models import DEFAULT_CAPACITY

    agent = get_agent(user)
    routed = user.role in ROUTED_ROLES
    if agent is None:
        return AgentHeader(routed, Agent.Status.OFFLINE, "", 0, DEFAULT_CAPACITY)
    return AgentHeader(routed, agent.status, agent.status_reason, agent.load, agent.capacity)


# -- a thread ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ThreadItem:
    """A message, a private note or a transfer note, in the order they happened."""

    kind: str  # message | note | transfer
    at: dt.datetime
    message: Message | None = None
    note: Note | None = None
    log: SessionLog | None = None


def message_buttons(message: Message) -> list[str]:
    """The titles of an interactive message's reply buttons (what the customer may tap)."""
    content = message.content if isinstance(message.content, dict) else {}
    buttons = content.get("buttons") if content.get("type") == "interactive" else None
    if not isinstance(buttons, list):
        return []
    return [str(b.get("title", "")) for b in buttons if isinstance(b, dict)]


def get_thread_message(conversation: Conversation, wamid: str) -> Message | None:
    return Message.objects.filter(conversation=conversation, wamid=wamid).first()


def list_thread(conversation: Conversation, limit: int = THREAD_MESSAGES) -> list[ThreadItem]:
    """The conversation's latest messages with the private notes and transfer notes left
    since the first of them, oldest first."""
    latest = list(
        Message.objects.filter(conversation=conversation).order_by("-created_at", "-id")[:limit]
    )
    latest.reverse()
    since = latest[0].created_at if len(latest) == limit else None
    notes = Note.objects.filter(conversation=conversation).select_related("author")
    logs = SessionLog.objects.filter(
        session__conversation=conversation, kind="transferred"
    ).select_related("actor", "queue")
    if since is not None:
        notes = notes.filter(created_at__gte=since)
        logs = logs.filter(at__gte=since)
    items = [ThreadItem("message", m.created_at, message=m) for m in latest]
    items += [ThreadItem("note", n.created_at, note=n) for n in notes[:500]]
    items += [ThreadItem("transfer", entry.at, log=entry) for entry in logs[:200]]
    order = {"message": 0, "transfer": 1, "note": 2}
    return sorted(items, key=lambda i: (i.at, order[i.kind]))


def list_canned_responses(business_id: int) -> list[CannedResponse]:
    return list(CannedResponse.objects.filter(business_id=business_id)[:200])


@dataclasses.dataclass(frozen=True)
class TemplateField:
    """One value the agent types for a template: a variable of its header, body or a URL
    button, by number ({{1}}) or by name ({{first_name}})."""

    kind: str  # header, body, button
    name: str
    index: int = 0  # the button's position

    @property
    def label(self) -> str:
        where = {"header": "Header", "body": "Body"}.get(self.kind, f"Button {self.index + 1} URL")
        return f"{where} {{{{{self.name}}}}}"


@dataclasses.dataclass(frozen=True)
class ReplyTemplate:
    """An approved template the reply box can send: every variable takes text."""

    name: str
    language: str
    category: str
    body: str
    fields: tuple[TemplateField, ...]
    named: bool

    @property
    def key(self) -> str:
        return f"{self.name}|{self.language}"

    @property
    def parameters(self) -> int:
        return len(self.fields)

    @property
    def labels_json(self) -> str:
        return json.dumps([f.label for f in self.fields])

    def components(self, values: list[str]) -> list[dict[str, Any]]:
        """The Cloud API's `components` of a send with these values, in field order."""
        grouped: dict[tuple[str, int], list[dict[str, str]]] = {}
        for field, value in zip(self.fields, values, strict=True):
            parameter = {"type": "text", "text": value}
            if self.named and field.kind != "button":
                parameter["parameter_name"] = field.name
            grouped.setdefault((field.kind, field.index), []).append(parameter)
        out: list[dict[str, Any]] = []
        for (kind, index), parameters in grouped.items():
            component: dict[str, Any] = {"type": kind, "parameters": parameters}
            if kind == "button":
                component |= {"sub_type": "url", "index": str(index)}
            out.append(component)
        return out


def _fields(slots: list[rules.Slot]) -> tuple[TemplateField, ...] | None:
    """The values to type for these slots, or None when one takes something other than
    text (a media header, a one-time password or a coupon code)."""
    fields: list[TemplateField] = []
    for slot in slots:
        url_button = slot.kind == "button" and slot.sub_type == "url" and bool(slot.text)
        if slot.media or (slot.kind == "button" and not url_button):
            return None
        fields += [TemplateField(slot.kind, name, slot.index) for name in slot.names]
    return tuple(fields)


def list_reply_templates(business_id: int) -> list[ReplyTemplate]:
    """Approved templates whose variables all take text (header, body, URL buttons;
    numbered or named): what an agent sends outside the service window by typing the
    values."""
    out: list[ReplyTemplate] = []
    rows = MessageTemplate.objects.filter(
        business_id=business_id, status=MessageTemplate.Status.APPROVED
    ).order_by("name", "language")
    for template in rows[:300]:
        try:
            slots = rules.slots_of(template.components, template.parameter_format)
        except (rules.RuleError, TypeError, AttributeError):
            continue
        fields = _fields(slots)
        if fields is None or len(fields) > MAX_TEMPLATE_PARAMETERS:
            continue
        out.append(
            ReplyTemplate(
                name=template.name,
                language=template.language,
                category=template.category,
                body=rules.text_of(template.components, "BODY"),
                fields=fields,
                named=template.parameter_format == MessageTemplate.ParameterFormat.NAMED,
            )
        )
    return out


# -- the customer panel ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SafetyStatus:
    """The customer's security code as the business number's endpoint knows it."""

    known: bool  # the endpoint has exchanged keys with the customer
    since: dt.datetime | None  # when the current identity key was first seen
    changed_at: dt.datetime | None  # the latest change of the customer's key, if any
    changes: int
    number: str  # the 60-digit safety number in groups of five ("" when not known)


def safety_status(conversation: Conversation) -> SafetyStatus:
    number_e164 = conversation.number.e164
    device = LocalDevice.objects.filter(
        e164=number_e164, device_id=1, owner=LocalDevice.Owner.BUSINESS,
        business_id=conversation.business_id,
    ).first()  # fmt: skip
    if device is None:
        return SafetyStatus(False, None, None, 0, "")
    peer = (
        PeerIdentity.objects.filter(device=device, name=conversation.customer)
        .order_by("peer_device_id")
        .first()
    )
    notices = IdentityChangeNotice.objects.filter(device=device, name=conversation.customer)
    latest = notices.order_by("-created_at", "-id").first()
    if peer is None:
        return SafetyStatus(False, None, None, 0, "")
    ours = PublicKey.deserialize(bytes(device.identity_public))
    theirs = PublicKey.deserialize(bytes(peer.identity_key))
    digits = safety_number(number_e164, ours, conversation.customer, theirs).formatted()
    return SafetyStatus(
        known=True,
        since=peer.updated_at,
        changed_at=latest.created_at if latest else None,
        changes=notices.count(),
        number=digits,
    )


def country_of(e164: str) -> tuple[str, str]:
    """The customer's country (ISO code and English name) from their number."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "", ""
    code = phonenumbers.region_code_for_number(parsed) or ""
    return code, geocoder.country_name_for_number(parsed, "en") or ""


def customer_panel(conversation: Conversation, session: Session | None) -> dict[str, Any]:
    code, name = country_of(conversation.customer)
    past = list_past_sessions(conversation.pk, limit=10)
    language = (session.language if session else "") or next(
        (s.language for s in past if s.language), ""
    )
    return {
        "number": conversation.customer,
        "country_code": code,
        "country": name,
        "language": language,
        "past": past,
        "since": conversation.created_at,
        "safety": safety_status(conversation),
    }


# -- transfers ---------------------------------------------------------------------------


def transfer_targets(user: StaffUser) -> dict[str, Any]:
    """Agents (other than the user) and queues of the user's business."""
    agents = [a for a in list_agents(user.business_id) if a.user_id != user.pk]
    queues = list(Queue.objects.filter(business_id=user.business_id).order_by("name")[:200])
    return {"agents": agents[:500], "queues": queues}


def may_act_on(user: StaffUser, session: Session | None) -> dict[str, bool]:
    """Which of the session's buttons the user sees (the actions check again)."""
    supervises = user.can(Capability.SUPERVISE_QUEUES)
    if session is None:
        return {"accept": False, "take": False, "hold": False, "reply": supervises}
    agent = get_agent(user)
    mine = agent is not None and session.agent_id == agent.pk
    state = session.state
    return {
        "accept": state == Session.State.OFFERED and (mine or supervises),
        "take": state == Session.State.WAITING and agent is not None,
        "hold": mine or supervises,  # transfer, snooze, resolve
        "reply": mine or supervises,
    }
