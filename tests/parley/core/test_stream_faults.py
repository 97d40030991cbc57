"""The stream when Redis fails, in one process: a commit never depends on the wake, and the
console consumer treats a push as a hint (it never parks one, so a late copy can never
arrive behind a newer event); each push names the previous entry of its business."""

from __future__ import annotations

import socket

import pytest

from parley.accounts.actions.staff import do_change_roles
from parley.core import clock
from parley.core.events import StaffChanged
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.publish import publish
from parley.core.realtime import previous_ids
from parley.core.stream import log as stream_log
from parley.core.stream.consumers import Delivery
from parley.core.stream.runner import run_consumers


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket closes


def _event(business_id: int, change: str = "x") -> StaffChanged:
    return StaffChanged(
        business_id=business_id, occurred_at=clock.now(), user_ids=(), change=change
    )


@pytest.mark.django_db(transaction=True)
def test_an_action_commits_while_redis_is_down_and_the_sweep_delivers(settings, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    agent = factory.staff(business, "agent")
    before = stream_log.last_id()
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    # The wake after commit cannot reach Redis: the action returns, its writes stand.
    assert do_change_roles(admin, [agent.pk], "supervisor") == 1
    agent.refresh_from_db()
    assert agent.role == "supervisor"
    names = list(StreamEntry.objects.filter(id__gt=before).values_list("name", flat=True))
    assert names == ["audit.recorded", "staff.changed"]
    # What the lost wake would have started, the sweep does.
    assert run_consumers(max_seconds=30, names=["billing"])
    assert StreamConsumer.objects.get(name="billing").position >= stream_log.last_id()


@pytest.mark.django_db
def test_the_console_never_parks_a_push_the_channel_layer_refused(settings, caplog) -> None:
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{_closed_port()}/0"]},
        }
    }
    ids = [publish(_event(1, str(n))) for n in range(3)]
    assert run_consumers(max_seconds=30, names=["console"])
    assert "console: 3 event(s) not pushed" in caplog.text  # the layer did refuse
    # Passed, not retried later: the websockets read what they missed from the log.
    assert StreamConsumer.objects.get(name="console").position == ids[-1]
    assert not StreamPending.objects.filter(consumer="console").exists()


@pytest.mark.django_db
def test_each_push_names_the_previous_entry_of_its_business() -> None:
    a0 = publish(_event(10))
    b0 = publish(_event(20))
    a1, b1, a2, c1 = (publish(_event(b)) for b in (10, 20, 10, 30))
    deliveries = [
        Delivery(row.id, row.key, stream_log.to_event(row))
        for row in stream_log.rows(StreamEntry.objects.filter(id__gte=a1).order_by("id"))
    ]
    assert previous_ids(deliveries) == {a1: a0, b1: b0, a2: a1, c1: 0}
    # A batch missing an entry of its range still chains through the log.
    assert previous_ids([d for d in deliveries if d.stream_id != a1])[a2] == a1
    assert previous_ids([]) == {}
