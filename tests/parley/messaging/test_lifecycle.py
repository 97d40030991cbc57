"""The status transition function, for every pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from parley.messaging import lifecycle as L

# Expected status after reporting `new` to a message in `current` (None: nothing changes).
EXPECTED: dict[tuple[str, str], str | None] = {}
for current, new in itertools.product(L.STATUSES, repeat=2):
    EXPECTED[(current, new)] = None
for current, new in [
    (L.ACCEPTED, L.SENT), (L.ACCEPTED, L.DELIVERED), (L.ACCEPTED, L.READ),
    (L.SENT, L.DELIVERED), (L.SENT, L.READ), (L.DELIVERED, L.READ),
    (L.ACCEPTED, L.FAILED), (L.SENT, L.FAILED),
    (L.ACCEPTED, L.EXPIRED), (L.SENT, L.EXPIRED),
    (L.RECEIVED, L.READ),
]:  # fmt: skip
    EXPECTED[(current, new)] = new


@pytest.mark.parametrize(("current", "new"), sorted(EXPECTED))
def test_every_pair(current: str, new: str) -> None:
    assert L.transition(current, new) == EXPECTED[(current, new)]


def test_late_delivery_after_read_changes_nothing() -> None:
    assert L.transition(L.READ, L.DELIVERED) is None
    assert L.transition(L.READ, L.SENT) is None


def test_failed_and_expired_are_terminal() -> None:
    for terminal in L.TERMINAL:
        assert all(L.transition(terminal, s) is None for s in L.STATUSES)


def test_delivered_messages_never_expire_or_fail() -> None:
    assert L.transition(L.DELIVERED, L.EXPIRED) is None
    assert L.transition(L.READ, L.FAILED) is None


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown status"):
        L.transition(L.SENT, "seen")
    with pytest.raises(ValueError, match="unknown status"):
        L.transition("queued", L.SENT)


def test_every_reached_status_has_a_timestamp_column() -> None:
    from parley.messaging.models import Message

    columns = {f.name for f in Message._meta.get_fields()}
    for status in L.STATUSES:
        assert L.timestamp_field(status) in columns
