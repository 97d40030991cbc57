"""The event vocabulary. Actions publish these after commit; webhooks, routing, billing, the
archive and the realtime console each listen. A new consumer adds a listener; it never edits
the producer."""

from __future__ import annotations

import dataclasses
import datetime as dt
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

    def payload(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("business_id")
        data["occurred_at"] = self.occurred_at.isoformat()
        return data

    def as_message(self) -> dict[str, Any]:
        return {"event": self.name, "business_id": self.business_id, "data": self.payload()}


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
class VerificationCodeDelivered(Event):
    """The simulated carrier delivered a registration code to the business number."""

    name: ClassVar[str] = "number.code_delivered"
    audience: ClassVar[frozenset[str]] = frozenset({ADMINISTRATOR, DEVELOPER})

    number_id: int
    display_phone_number: str
    method: str


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
