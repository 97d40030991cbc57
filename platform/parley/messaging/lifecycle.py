"""The lifecycle of a message's status, as a pure function.

Outbound: accepted → sent → delivered → read, each step only forward (a late `delivered`
after `read` changes nothing); `failed` and `expired` end an undelivered message and nothing
moves it afterwards. Inbound: received → read (the business read it)."""

from __future__ import annotations

ACCEPTED = "accepted"
SENT = "sent"
DELIVERED = "delivered"
READ = "read"
FAILED = "failed"
EXPIRED = "expired"
RECEIVED = "received"

STATUSES = (ACCEPTED, SENT, DELIVERED, READ, FAILED, EXPIRED, RECEIVED)
_RANK = {ACCEPTED: 0, SENT: 1, DELIVERED: 2, READ: 3}
TERMINAL = frozenset({FAILED, EXPIRED})
# Only a message that has not reached the customer can fail or expire.
_UNDELIVERED = frozenset({ACCEPTED, SENT})


def transition(current: str, new: str) -> str | None:
    """The status after `new` is reported for a message in `current`, or None when the
    report changes nothing. Unknown statuses raise ValueError."""
    if current not in STATUSES or new not in STATUSES:
        raise ValueError(f"unknown status: {current!r} → {new!r}")
    if current in TERMINAL:
        return None
    if current == RECEIVED:
        return READ if new == READ else None
    if new in TERMINAL:
        return new if current in _UNDELIVERED else None
    if new == RECEIVED:
        return None
    return new if _RANK[new] > _RANK[current] else None


def timestamp_field(status: str) -> str:
    """The message column that records when it reached `status`."""
    return f"{status}_at"
