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
