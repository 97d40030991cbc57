"""The event vocabulary. Actions publish these inside their transaction: each lands in the
durable stream (parley.core.stream) with the change that caused it, and webhooks, routing,
billing, the archive and the realtime console each consume it there. A new consumer adds a
consumer; it never edits the producer.

Every concrete class registers itself by `name`, so a logged row rebuilds the dataclass
(`Event.from_payload`). Field types must survive JSON: str, int, float, bool, datetimes,
dates, tuples of those, and `X | None`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Any, ClassVar

# Roles (see parley.accounts.roles) that may see an event on the realtime stream. Kept as
# plain strings here so the core does not import the accounts app.
ADMINISTRATOR = "administrator"
SUPERVISOR = "supervisor"
AGENT = "agent"
COMPLIANCE = "compliance_officer"
DEVELOPER = "developer"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str]
    # Who may receive the event on the staff stream; content-bearing events never list
    # administrators or compliance officers.
    audience: ClassVar[frozenset[str]] = frozenset()

    business_id: int
    occurred_at: dt.datetime
    # Addressed to one staff user (of `business_id`) instead of the audience's roles.
    user_id: int | None = None

    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if isinstance(name, str):
            known = Event.registry.get(name)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(f"event name {name!r} is taken by {known.__qualname__}")
            Event.registry[name] = cls

    def stream_key(self) -> str:
        """The ordering key: a consumer sees the events of one key in stream order. Events
        about one conversation override it with the conversation."""
        return f"business:{self.business_id}"

    def payload(self) -> dict[str, Any]:
        """The event's own fields as JSON values (addressing fields are left out)."""
        data = {
            f.name: _to_json(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in ("business_id", "user_id")
        }
        return data

    def as_message(self, stream_id: int | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "event": self.name,
            "business_id": self.business_id,
            "data": self.payload(),
        }
        if stream_id is not None:
            message["stream_id"] = stream_id
        return message

    @classmethod
    def from_payload(
        cls, name: str, business_id: int, data: dict[str, Any], user_id: int | None = None
    ) -> Event:
        """Rebuild an event from its name and payload (the inverse of `payload`)."""
        event_cls = Event.registry.get(name)
        if event_cls is None:
            raise LookupError(f"unknown event {name!r}")
        hints = _hints(event_cls)
        values = {
            f.name: _from_json(hints[f.name], data[f.name])
            for f in dataclasses.fields(event_cls)
            if f.name in data and f.name not in ("business_id", "user_id")
        }
        return event_cls(business_id=business_id, user_id=user_id, **values)


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list | frozenset | set):
        return [_to_json(v) for v in value]
    return value


_hint_cache: dict[type[Event], dict[str, Any]] = {}


def _hints(cls: type[Event]) -> dict[str, Any]:
    hints = _hint_cache.get(cls)
    if hints is None:
        hints = _hint_cache[cls] = typing.get_type_hints(cls)
    return hints


def _from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(options[0], value) if len(options) == 1 else value
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if hint is dt.date:
        return dt.date.fromisoformat(value)
    if origin in (tuple, frozenset):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        item = args[0] if args else Any
        return origin(_from_json(item, v) for v in value)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuditRecorded(Event):
    name: ClassVar[str] = "audit.recorded"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, COMPLIANCE})

    entry_id: int
    action: str
    actor: str
    target: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class StaffChanged(Event):
    name: ClassVar[str] = "staff.changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, SUPERVISOR})

    user_ids: tuple[int, ...]
    change: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumberStatusChanged(Event):
    name: ClassVar[str] = "number.status_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    number_id: int
    display_phone_number: str
    status: str
    official_verification: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class NumberQualityChanged(Event):
    """A business number's quality rating changed (GREEN, YELLOW, RED): what the Cloud API's
    `phone_number_quality_update` webhook reports. `event` is that webhook's value: FLAGGED
    when the rating fell to RED, UNFLAGGED when it rose from RED, "" otherwise.
    `current_limit` is the number's business portfolio's messaging limit tier."""

    name: ClassVar[str] = "number.quality_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    number_id: int
    display_phone_number: str
    quality_rating: str
    previous_quality_rating: str
    event: str = ""
    current_limit: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BusinessBlocked(Event):
    """A customer blocked businesses on their phone; published by the relay (which sees only
    metadata) for each business number that sent them a message in the quality window.
    Customers' blocks are what a number's quality rating follows."""

    name: ClassVar[str] = "relay.business_blocked"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    number_e164: str
    customer: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class VerificationCodeDelivered(Event):
    """The simulated carrier delivered a registration code to the business number."""

    name: ClassVar[str] = "number.code_delivered"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    number_id: int
    display_phone_number: str
    method: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class TemplateStatusChanged(Event):
    """A message template was submitted, reviewed, paused, disabled, reinstated or deleted:
    what the Cloud API's `message_template_status_update` webhook reports. `event` is that
    webhook's value (REINSTATED moves the template back to APPROVED; DELETED removes it)."""

    name: ClassVar[str] = "template.status_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    template_id: str  # the Graph id
    template_name: str
    language: str
    status: str
    previous_status: str  # "" when the template was just created
    reason: str  # Meta's reason: "NONE", a rejection reason, or why it was paused or disabled
    event: str = ""
    category: str = ""


# --- relay (the platform server): metadata only, never content --------------------------
# `business_id` is the business owning the number involved (0 for customers' handsets).
# No staff audience: these are for the relay's own listeners (push to online devices) and
# for the business endpoint, not for the console.


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvelopeQueued(Event):
    name: ClassVar[str] = "relay.envelope_queued"

    guid: str
    recipient_e164: str
    recipient_device_id: int
    recipient_device_pk: int
    sender_e164: str  # "" for server notices
    sender_device_id: int
    envelope_type: int
    size: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvelopeDelivered(Event):
    """The recipient device acknowledged (delivery) or reported reading (read) a message."""

    name: ClassVar[str] = "relay.envelope_delivered"

    guid: str
    kind: str  # "delivery" or "read"
    sender_e164: str
    sender_device_id: int
    recipient_e164: str
    recipient_device_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnvelopeExpired(Event):
    """An envelope went undelivered for the whole retention period and was dropped."""

    name: ClassVar[str] = "relay.envelope_expired"

    guid: str
    sender_e164: str
    sender_device_id: int
    recipient_e164: str
    recipient_device_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class IdentityChanged(Event):
    """A device was registered anew (reinstall, new phone or restore), with a new identity
    key or the same one: peers should show a security-code change notice."""

    name: ClassVar[str] = "relay.identity_changed"

    e164: str
    device_id: int
    account_kind: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CustomerIdentityChanged(Event):
    """A business number's endpoint found that a customer's security code changed (the
    customer re-installed or changed phone): the Cloud API's `customer_identity_changed`
    system notice. No content."""

    name: ClassVar[str] = "customer.identity_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, AGENT, SUPERVISOR, DEVELOPER})

    number: str  # the business number (E.164)
    customer: str
    device_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class PreKeysLow(Event):
    """A device's one-time pre-key pool fell below the replenish threshold."""

    name: ClassVar[str] = "relay.prekeys_low"

    e164: str
    device_id: int
    device_pk: int
    ec_remaining: int
    kem_remaining: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryRecorded(Event):
    """A message was sent, delivered or expired: the facts billing rates, never content.

    `delivered_at` is None while delivery is pending; `expired` marks the end of the 30-day
    delivery attempt."""

    name: ClassVar[str] = "message.delivery_recorded"
    # No content: the developers' message log learns of new and delivered messages from it.
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    message_id: str
    agent_id: str
    agent_category: str
    customer: str
    channel: str
    direction: str
    content: str
    sent_at: dt.datetime
    delivered_at: dt.datetime | None = None
    expired: bool = False
    text_bytes: int = 0
    size_bytes: int = 0
    suggestions: str = "none"
    url_preview: bool = False
    template_category: str = ""
    # A customer's message from an ad or a Page's button (a free entry point).
    entry_point: bool = False


# --- messaging: one message lifecycle, in the business's tenant --------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageStatusChanged(Event):
    """A message moved in its lifecycle (accepted, sent, delivered, read, failed, expired).
    No content: the status, the ids and, for `failed`, the error."""

    name: ClassVar[str] = "message.status_changed"
    # No content, so administrators too (the message log shows them statuses).
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, AGENT, SUPERVISOR, DEVELOPER})

    message_id: str  # the wamid
    conversation_id: int
    number_id: int
    customer: str
    direction: str
    status: str
    previous_status: str
    error_code: int | None = None
    error_title: str = ""

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MessageReceived(Event):
    """A customer's message, decrypted by the business number's endpoint: content for the
    people who answer it, never for administrators or compliance officers."""

    name: ClassVar[str] = "message.received"
    audience: ClassVar[frozenset[str]] = frozenset({AGENT, SUPERVISOR})

    message_id: str
    conversation_id: int
    number_id: int
    customer: str
    content_type: str
    content_json: str  # the typed content (parley.messaging.content) as JSON
    text: str  # a one-line preview of it
    reply_to: str = ""

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversationWindowClosed(Event):
    """The 24 h customer-service window closed: free-form messages need a template now."""

    name: ClassVar[str] = "conversation.window_closed"
    audience: ClassVar[frozenset[str]] = frozenset({AGENT, SUPERVISOR})

    conversation_id: int
    number_id: int
    customer: str
    closed_at: dt.datetime

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


# --- webhooks ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class WebhookTestRequested(Event):
    """Someone asked for a sample change of one field to be sent to one app (the App
    Dashboard's "Test" button): it travels the stream like every real event."""

    name: ClassVar[str] = "webhook.test_requested"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    app_id: str  # the app's Graph id
    field: str


# --- routing: who serves a conversation (metadata only, never content) -----------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class SessionRouted(Event):
    """A conversation's service session moved: queued, offered to an agent, accepted,
    returned to its queue, transferred, snoozed, resolved or abandoned. What supervisors'
    live views follow; no content, so administrators see it too."""

    name: ClassVar[str] = "routing.session_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, SUPERVISOR})

    session_id: int
    conversation_id: int
    customer: str
    queue_id: int
    queue: str
    state: str
    change: str  # queued, offered, accepted, returned, transferred, snoozed, resolved, …
    agent_user_id: int | None = None
    previous_agent_user_id: int | None = None
    reason: str = ""

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversationAssigned(Event):
    """A conversation was offered to one agent (addressed to that agent's user): it appears
    in their list at once."""

    name: ClassVar[str] = "conversation.assigned"
    audience: ClassVar[frozenset[str]] = frozenset({AGENT, SUPERVISOR})

    session_id: int
    conversation_id: int
    customer: str
    queue: str
    reason: str  # new, transfer, requeue
    offer_expires_at: dt.datetime | None = None
    note: str = ""

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversationUnassigned(Event):
    """A conversation left an agent (addressed to that agent's user): resolved, transferred,
    returned after an offer timed out or the agent went idle or offline."""

    name: ClassVar[str] = "conversation.unassigned"
    audience: ClassVar[frozenset[str]] = frozenset({AGENT, SUPERVISOR})

    session_id: int
    conversation_id: int
    reason: str

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversationTyping(Event):
    """Someone of the business is writing an answer in a conversation (the console shows it
    to the others who have it open; the customer's phone got the typing indicator)."""

    name: ClassVar[str] = "conversation.typing"
    audience: ClassVar[frozenset[str]] = frozenset({AGENT, SUPERVISOR})

    conversation_id: int
    typist_user_id: int
    typist_name: str
    until: dt.datetime

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SlaBreached(Event):
    """A session missed a target of its queue's SLA policy."""

    name: ClassVar[str] = "routing.sla_breached"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, SUPERVISOR})

    session_id: int
    conversation_id: int
    queue: str
    kind: str  # first_response, next_response, resolution
    due_at: dt.datetime
    agent_user_id: int | None = None

    def stream_key(self) -> str:
        return f"conversation:{self.conversation_id}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgentStatusChanged(Event):
    """An agent's status, load or presence changed."""

    name: ClassVar[str] = "routing.agent_changed"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, SUPERVISOR})

    agent_user_id: int
    status: str
    reason: str = ""
    load: int = 0
    capacity: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class LegalHoldChanged(Event):
    """A legal hold was placed or released. The archive records it as a metadata record;
    compliance officers' views follow it."""

    name: ClassVar[str] = "archive.legal_hold_changed"
    audience: ClassVar[frozenset[str]] = frozenset({COMPLIANCE})

    hold_id: int
    hold_name: str
    change: str  # placed | released
    scope: str
    criteria_json: str
    actor: str
    reason: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchiveExportProgressed(Event):
    """An export job moved on (addressed to the officer who asked for it)."""

    name: ClassVar[str] = "archive.export_progressed"
    audience: ClassVar[frozenset[str]] = frozenset({COMPLIANCE})

    job_id: int
    state: str
    done: int
    total: int
    progress: int
