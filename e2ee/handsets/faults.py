"""Fault numbers: a fixed set of customers' numbers with built-in behaviour, present in every
installation, so a business's developers can test their integration's error paths on purpose.

They come from the range 555-0100…0199 reserved for fictional use in North America (valid to
`phonenumbers`, never a real subscriber). Each one except "not on WhatsApp" is a real phone of
the handset fleet, registered with the relay and owned by no business (any business may
message it); the fleet creates them when it starts (idempotent) and runs their behaviour.
Everything the business sees comes through the relay and its own endpoint, as for any
customer: nothing is written on the business's side.

Pure data and small helpers: no Django import, so the API, the console, the command and the
fleet share one table."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

NOT_ON_WHATSAPP = "+12025550101"
OFFLINE_FOR_A_WHILE = "+12025550102"
NEVER_READS = "+12025550103"
REPLIES_AUTOMATICALLY = "+12025550104"
BLOCKED_THE_BUSINESS = "+12025550105"
CHANGES_DEVICE = "+12025550106"

# How long (simulated time, `parley.core.clock`) the offline phone stays offline each time.
OFFLINE_STRETCH = dt.timedelta(hours=1)
AUTO_REPLY_TEXT = "Thanks for your message! This is an automatic reply (Parley test number)."


@dataclasses.dataclass(frozen=True)
class FaultNumber:
    number: str
    behaviour: str  # a stable key
    title: str
    outcome: str  # what the business sees

    def to_dict(self) -> dict[str, Any]:
        return {
            "phone_number": self.number,
            "wa_id": self.number.lstrip("+"),
            "behaviour": self.behaviour,
            "title": self.title,
            "outcome": self.outcome,
        }


FAULT_NUMBERS: tuple[FaultNumber, ...] = (
    FaultNumber(
        NOT_ON_WHATSAPP,
        "not_on_whatsapp",
        "Not on WhatsApp",
        "Never registered with the relay: every message fails asynchronously with 131026 "
        "(Message undeliverable).",
    ),
    FaultNumber(
        OFFLINE_FOR_A_WHILE,
        "offline_for_a_while",
        "Offline for a while",
        "Offline: receives nothing until it has been offline for 1 hour of simulated time, "
        "then fetches its queue (its messages become delivered) and goes offline again. "
        "Advance the clock by 1 hour after sending and the message is delivered.",
    ),
    FaultNumber(
        NEVER_READS,
        "never_reads",
        "Never reads",
        "Online: messages become delivered, never read.",
    ),
    FaultNumber(
        REPLIES_AUTOMATICALLY,
        "replies_automatically",
        "Replies automatically",
        f"Answers every message it receives with the text {AUTO_REPLY_TEXT!r} (a "
        "message.received, which opens the customer-service window).",
    ),
    FaultNumber(
        BLOCKED_THE_BUSINESS,
        "blocked_the_business",
        "Has blocked the business",
        "Has blocked every business (a block the relay enforces): every message fails "
        "with 131026 (Message undeliverable), as for a number not on WhatsApp.",
    ),
    FaultNumber(
        CHANGES_DEVICE,
        "changes_device",
        "Changes device",
        "Re-installs WhatsApp (a new identity key) after each message it receives: the "
        "business's next message finds a new security code (customer.identity_changed) and "
        "is delivered on a new session.",
    ),
)

BY_NUMBER: dict[str, FaultNumber] = {f.number: f for f in FAULT_NUMBERS}
# The ones the fleet runs as phones (the first is never registered).
FLEET_NUMBERS: tuple[str, ...] = tuple(
    f.number for f in FAULT_NUMBERS if f.number != NOT_ON_WHATSAPP
)


def is_fault_number(e164: str) -> bool:
    return e164 in BY_NUMBER


def list_fault_numbers() -> list[dict[str, Any]]:
    return [f.to_dict() for f in FAULT_NUMBERS]
