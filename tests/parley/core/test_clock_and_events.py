import datetime as dt

import pytest
from django.db import transaction

from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.publish import dispatch, listen


def test_frozen_clock_moves_only_when_told() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with clock.frozen(start) as c:
        assert clock.now() == start
        c.advance(days=30, seconds=1)
        assert clock.now() == start + dt.timedelta(days=30, seconds=1)
    assert clock.now() != start + dt.timedelta(days=30, seconds=1)


def test_frozen_clock_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        clock.FrozenClock(dt.datetime(2026, 1, 1))


seen: list[str] = []


@listen(StaffChanged)
def _remember(event: StaffChanged) -> None:
    seen.append(event.change)


def _event(change: str) -> StaffChanged:
    return StaffChanged(business_id=1, occurred_at=clock.now(), user_ids=(1,), change=change)


@pytest.mark.django_db(transaction=True)
def test_events_are_published_only_after_commit() -> None:
    from parley.core.publish import publish

    seen.clear()
    with transaction.atomic():
        publish(_event("committed"))
        assert seen == []
    assert seen == ["committed"]

    def publish_then_fail() -> None:
        with transaction.atomic():
            publish(_event("rolled back"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        publish_then_fail()
    assert seen == ["committed"]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    calls: list[str] = []

    @listen(StaffChanged)
    def broken(event: StaffChanged) -> None:
        raise RuntimeError("boom")

    @listen(StaffChanged)
    def fine(event: StaffChanged) -> None:
        calls.append(event.change)

    try:
        dispatch(_event("x"))
        assert calls == ["x"]
    finally:
        from parley.core.publish import _listeners

        _listeners[StaffChanged].remove(broken)  # type: ignore[arg-type]
        _listeners[StaffChanged].remove(fine)  # type: ignore[arg-type]
