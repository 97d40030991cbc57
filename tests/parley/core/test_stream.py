"""The durable event stream in one process: the outbox row, round-trips, consumers' positions,
retries, dead letters, order per key, idempotence, billing's consumer and compaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import typing
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.db import connection, transaction

from billing.models import MessageFactRecord
from parley.core import clock, events
from parley.core.errors import InvalidParameter
from parley.core.events import DeliveryRecorded, Event, StaffChanged
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.publish import publish
from parley.core.stream import log as stream_log
from parley.core.stream.actions import (
    do_compact_stream,
    do_discard_dead_letters,
    do_redrive_dead_letters,
)
from parley.core.stream.consumers import Consumer, Delivery, register, unregister
from parley.core.stream.runner import run_batch, run_consumers, with_work
from parley.core.stream.selectors import get_stream_status, list_dead_letters

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyedNote(Event):
    """A test event ordered by its own key, as conversation events are."""

    name: ClassVar[str] = "test.keyed_note"
    thread: str
    n: int

    def stream_key(self) -> str:
        return f"thread:{self.thread}"


class Probe:
    """A consumer under test: records what it handled and fails while told to."""

    def __init__(self, name: str, *, batch_size: int = 500, max_attempts: int | None = None):
        self.name = name
        self.seen: list[int] = []
        self.failing: set[str] = set()  # stream keys whose events raise
        self.consumer = register(Consumer(name, self.handle, None, batch_size, max_attempts))

    def handle(self, items: list[Delivery]) -> None:
        for item in items:
            if item.key in self.failing:
                raise RuntimeError(f"refusing {item.key}")
        self.seen.extend(item.stream_id for item in items)

    def run(self) -> bool:
        return run_consumers(max_seconds=30, names=[self.name])


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    made: list[Probe] = []
    yield made
    for probe in made:
        unregister(probe.name)


def _staff_event(change: str = "x", business_id: int = 1) -> StaffChanged:
    return StaffChanged(
        business_id=business_id, occurred_at=clock.now(), user_ids=(1, 2), change=change
    )


def _note(thread: str, n: int) -> KeyedNote:
    return KeyedNote(business_id=1, occurred_at=clock.now(), thread=thread, n=n)


# --- the outbox row ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_row_is_written_in_the_transaction_and_rolled_back_with_it() -> None:
    class Boom(Exception):
        pass

    written: list[bool] = []

    def publish_then_fail() -> int:
        with transaction.atomic():
            stream_id = publish(_staff_event("rolled back"))
            written.append(StreamEntry.objects.filter(pk=stream_id).exists())
            raise Boom

    with pytest.raises(Boom):
        publish_then_fail()
    assert written == [True]
    assert not StreamEntry.objects.exists()

    # Outside a transaction the row commits at once.
    committed = publish(_staff_event("at once"))
    assert StreamEntry.objects.get(pk=committed).payload["change"] == "at once"


@pytest.mark.django_db
def test_stream_ids_increase_and_the_row_carries_the_addressing() -> None:
    ids = [publish(_staff_event(str(n), business_id=7)) for n in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    addressed = publish(dataclasses.replace(_staff_event("mine"), user_id=42))
    row = StreamEntry.objects.get(pk=addressed)
    assert (row.user_id, row.key, row.name) == (42, "business:1", "staff.changed")
    assert row.audience == ",administrator,supervisor,"
    assert StreamEntry.objects.get(pk=ids[0]).business_id == 7


def _sample(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is not None and type(None) in typing.get_args(hint):
        return _sample(next(a for a in typing.get_args(hint) if a is not type(None)))
    if origin is tuple:
        return (_sample(typing.get_args(hint)[0]), _sample(typing.get_args(hint)[0]))
    samples: dict[Any, Any] = {
        int: 7,
        str: "sample",
        bool: True,
        float: 1.5,
        dt.datetime: START,
        dt.date: START.date(),
    }
    return samples[hint]


def _vocabulary() -> list[type[Event]]:
    return [c for c in Event.registry.values() if c.__module__ == events.__name__]


@pytest.mark.django_db
def test_every_event_of_the_vocabulary_round_trips_through_the_log() -> None:
    assert len(_vocabulary()) >= 10
    for cls in _vocabulary():
        hints = typing.get_type_hints(cls)
        values = {
            f.name: _sample(hints[f.name])
            for f in dataclasses.fields(cls)
            if f.name not in ("business_id", "user_id")
        }
        for user_id in (None, 5):
            event = cls(business_id=3, user_id=user_id, **values)
            # Through JSON as the database stores it, and through a real row.
            data = json.loads(json.dumps(event.payload()))
            assert Event.from_payload(cls.name, 3, data, user_id) == event, cls
            stream_id = publish(event)
            assert stream_log.to_event(StreamEntry.objects.get(pk=stream_id)) == event, cls


def test_an_unknown_event_name_is_an_error_not_a_guess() -> None:
    with pytest.raises(LookupError):
        Event.from_payload("no.such_event", 1, {})


# --- consumers -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stopped_consumer_catches_up_from_its_position(probes) -> None:
    probes.append(probe := Probe("catch-up"))
    first = [publish(_staff_event(str(n))) for n in range(3)]
    assert probe.run()
    assert probe.seen == first
    # Stopped: nothing runs while events are published.
    later = [publish(_staff_event(str(n))) for n in range(5)]
    assert StreamConsumer.objects.get(name="catch-up").position == first[-1]
    assert probe.run()
    assert probe.seen == first + later  # each once, in stream order
    assert StreamConsumer.objects.get(name="catch-up").position == later[-1]


@pytest.mark.django_db
def test_consumers_read_in_batches_and_filter_their_events(probes) -> None:
    small = Probe("small-batches", batch_size=2)
    probes.append(small)
    only_delivery: list[int] = []
    register(
        Consumer(
            "deliveries-only",
            lambda items: only_delivery.extend(i.stream_id for i in items),
            frozenset({DeliveryRecorded.name}),
        )
    )
    try:
        ids = [publish(_staff_event(str(n))) for n in range(5)]
        assert run_batch(small.consumer) and small.seen == ids[:2]
        assert run_consumers(max_seconds=30, names=["small-batches", "deliveries-only"])
        assert small.seen == ids and only_delivery == []
        assert StreamConsumer.objects.get(name="deliveries-only").position == ids[-1]
    finally:
        unregister("deliveries-only")


@pytest.mark.django_db
def test_a_failing_handler_backs_off_on_the_clock_then_dead_letters_and_is_redriven(
    probes, settings, frozen_clock
) -> None:
    settings.PARLEY = {**settings.PARLEY, "STREAM_RETRY_BASE_SECONDS": 2.0}
    probes.append(probe := Probe("flaky", max_attempts=3))
    probe.failing.add("business:1")
    stream_id = publish(_staff_event("fails"))

    def pending() -> StreamPending:
        return StreamPending.objects.get(consumer="flaky", entry_id=stream_id)

    probe.run()
    assert (pending().attempts, pending().state) == (1, StreamPending.RETRY)
    assert pending().next_attempt_at == START + dt.timedelta(seconds=2)
    frozen_clock.advance(seconds=1)
    probe.run()
    assert pending().attempts == 1  # not due yet
    frozen_clock.advance(seconds=1)
    probe.run()
    assert pending().attempts == 2  # the second wait doubles
    assert pending().next_attempt_at == START + dt.timedelta(seconds=2 + 4)
    frozen_clock.advance(seconds=3)
    probe.run()
    assert pending().attempts == 2
    frozen_clock.advance(seconds=1)
    probe.run()
    assert (pending().attempts, pending().state) == (3, StreamPending.DEAD)
    assert "refusing business:1" in pending().last_error
    frozen_clock.advance(days=1)
    probe.run()
    assert pending().attempts == 3 and probe.seen == []  # dead letters wait for a person

    status = {c.name: c for c in get_stream_status().consumers}["flaky"]
    assert (status.dead, status.retrying) == (1, 0)
    assert [p.entry_id for p in list_dead_letters("flaky")] == [stream_id]

    probe.failing.clear()
    assert do_redrive_dead_letters("flaky") == 1
    probe.run()
    assert probe.seen == [stream_id]
    assert not StreamPending.objects.filter(consumer="flaky").exists()


@pytest.mark.django_db
def test_redriving_an_unknown_consumer_is_a_user_error() -> None:
    with pytest.raises(InvalidParameter):
        do_redrive_dead_letters("nobody")


@pytest.mark.django_db
def test_a_retry_holds_back_its_key_while_other_keys_proceed(probes, frozen_clock) -> None:
    probes.append(probe := Probe("ordered"))
    probe.failing.add("thread:a")
    a1, b1, a2, b2 = (publish(_note(t, n)) for t, n in (("a", 1), ("b", 1), ("a", 2), ("b", 2)))
    probe.run()
    assert probe.seen == [b1, b2]
    # Thread a's retry is due but still failing; b keeps flowing.
    b3 = publish(_note("b", 3))
    frozen_clock.advance(hours=1)
    probe.run()
    assert probe.seen == [b1, b2, b3]
    a3 = publish(_note("a", 3))
    probe.failing.clear()
    frozen_clock.advance(hours=1)
    probe.run()
    assert probe.seen == [b1, b2, b3, a1, a2, a3]
    assert not StreamPending.objects.filter(consumer="ordered").exists()


@pytest.mark.django_db
def test_a_dead_letter_holds_its_key_until_redriven_and_then_runs_first(probes) -> None:
    probes.append(probe := Probe("holds", max_attempts=1))
    probe.failing.add("thread:a")
    a1 = publish(_note("a", 1))
    probe.run()
    assert StreamPending.objects.get(consumer="holds", entry_id=a1).state == "dead"
    probe.failing.clear()
    a2, b1, a3 = publish(_note("a", 2)), publish(_note("b", 1)), publish(_note("a", 3))
    probe.run()
    probe.run()
    assert probe.seen == [b1]  # the conversation waits behind its dead letter; others flow
    held = StreamPending.objects.filter(consumer="holds", state=StreamPending.RETRY)
    assert sorted(held.values_list("entry_id", flat=True)) == [a2, a3]
    # Re-driving one held entry does not let it pass the dead letter either.
    assert do_redrive_dead_letters("holds", [a2]) == 0
    assert do_redrive_dead_letters("holds") == 1
    probe.run()
    assert probe.seen == [b1, a1, a2, a3]  # the conversation in its order
    assert not StreamPending.objects.filter(consumer="holds").exists()


@pytest.mark.django_db
def test_a_discarded_dead_letter_releases_what_its_key_held_back(probes) -> None:
    probes.append(probe := Probe("discards", max_attempts=1))
    probe.failing.add("thread:a")
    a1 = publish(_note("a", 1))
    probe.run()
    probe.failing.clear()
    a2 = publish(_note("a", 2))
    probe.run()
    assert probe.seen == []
    with pytest.raises(InvalidParameter):
        do_discard_dead_letters("nobody")
    assert do_discard_dead_letters("discards", [a2]) == 0  # held, not dead
    assert do_discard_dead_letters("discards") == 1
    probe.run()
    assert probe.seen == [a2]  # the discarded entry is never handled
    assert not StreamPending.objects.filter(consumer="discards").exists()
    status = {c.name: c for c in get_stream_status().consumers}["discards"]
    assert (status.dead, status.retrying, status.lag) == (0, 0, 0)
    assert StreamConsumer.objects.get(name="discards").position >= a1


# --- exactly-once effects of a database consumer --------------------------------------------


@pytest.fixture
def effect_table() -> Iterator[str]:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_stream_effect (stream_id bigint NOT NULL)")
    yield "test_stream_effect"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE test_stream_effect")


class Killed(BaseException):
    """Stands for the process dying mid-batch: nothing catches it."""


@pytest.mark.django_db(transaction=True)
def test_a_batch_cut_short_runs_again_and_applies_each_effect_once(effect_table) -> None:
    kill_at = {"count": 3}

    def write(items: list[Delivery]) -> None:
        with connection.cursor() as cursor:
            for item in items:
                cursor.execute("INSERT INTO test_stream_effect VALUES (%s)", [item.stream_id])
                kill_at["count"] -= 1
                if kill_at["count"] == 0:
                    raise Killed

    register(Consumer("effects", write, None))
    try:
        ids = [publish(_staff_event(str(n))) for n in range(6)]
        with pytest.raises(Killed):
            run_consumers(max_seconds=30, names=["effects"])
        assert StreamConsumer.objects.get(name="effects").position == 0
        assert run_consumers(max_seconds=30, names=["effects"])
        assert run_consumers(max_seconds=30, names=["effects"])  # nothing left to apply
        with connection.cursor() as cursor:
            cursor.execute("SELECT stream_id FROM test_stream_effect ORDER BY stream_id")
            assert [r[0] for r in cursor.fetchall()] == ids
    finally:
        unregister("effects")


def _delivery(business_id: int, message_id: str, delivered: bool) -> DeliveryRecorded:
    at = START - dt.timedelta(hours=1)
    return DeliveryRecorded(
        business_id=business_id, occurred_at=at, message_id=message_id, agent_id="agent-9",
        agent_category="NON_CONVERSATIONAL", customer="+919876543210", channel="RCS",
        direction="A2P", content="rich_card", sent_at=at, delivered_at=at if delivered else None,
    )  # fmt: skip


@pytest.mark.django_db
def test_billing_records_one_fact_per_message_however_often_it_is_delivered(factory) -> None:
    business = factory.business()
    with transaction.atomic():
        publish(_delivery(business.pk, "wamid.once", delivered=False))
        publish(_delivery(business.pk, "wamid.once", delivered=True))
    with transaction.atomic():
        publish(_delivery(business.pk, "wamid.once", delivered=True))
    assert run_consumers(max_seconds=30, names=["billing"])
    facts = MessageFactRecord.objects.filter(business=business)
    assert facts.count() == 1
    assert facts.get().delivered_at is not None
    # Offered again from the start, the consumer still counts the message once.
    StreamConsumer.objects.filter(name="billing").update(position=0)
    assert run_consumers(max_seconds=30, names=["billing"])
    assert MessageFactRecord.objects.filter(business=business).count() == 1


# --- compaction ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_compaction_keeps_what_a_lagging_consumer_has_not_passed(probes, frozen_clock) -> None:
    probes.append(lagging := Probe("lagging", batch_size=2))
    probes.append(flaky := Probe("pending", max_attempts=5))
    flaky.failing.add("thread:held")
    old = [publish(_staff_event(str(n))) for n in range(4)]
    held = publish(_note("held", 1))
    names = ["console", "billing", "endpoints", "quality", "webhooks", "routing", "archive"]
    run_consumers(max_seconds=30, names=[*names, "pending"])
    run_batch(lagging.consumer)  # two entries in
    assert do_compact_stream() == 0  # nothing is old enough yet
    frozen_clock.advance(days=8)
    recent = publish(_staff_event("recent"))
    run_consumers(max_seconds=30, names=names)
    assert do_compact_stream() == 2  # only what the lagging consumer passed
    assert set(StreamEntry.objects.values_list("id", flat=True)) == {*old[2:], held, recent}
    lagging.run()
    assert do_compact_stream() == 2  # the rest, except the entry still pending
    assert set(StreamEntry.objects.values_list("id", flat=True)) == {held, recent}
    assert lagging.seen == [*old, held, recent]


@pytest.mark.django_db
def test_healthz_shows_the_log_size_and_each_consumers_lag(client, probes) -> None:
    probes.append(Probe("reported"))
    ids = [publish(_staff_event(str(n))) for n in range(3)]
    run_consumers(max_seconds=30, names=["console"])
    stream = client.get("/healthz").json()["stream"]
    assert stream["entries"] == 3 and stream["last_id"] == ids[-1]
    assert stream["consumers"]["console"]["lag"] == 0
    assert stream["consumers"]["reported"]["lag"] == 3
    assert stream["consumers"]["reported"]["dead"] == 0


@pytest.mark.django_db
def test_only_consumers_behind_the_log_or_with_a_retry_due_are_run(probes, frozen_clock) -> None:
    probes.append(behind := Probe("behind"))
    probes.append(retrying := Probe("retrying"))
    consumers = [behind.consumer, retrying.consumer]
    retrying.failing.add("thread:a")
    publish(_note("a", 1))
    run_consumers(max_seconds=30, names=["behind", "retrying"])
    # Both have read to the end of the log; the failed entry's retry is not due yet.
    assert with_work(consumers) == []
    frozen_clock.advance(hours=1)
    assert with_work(consumers) == [retrying.consumer]
    retrying.failing.clear()
    publish(_note("b", 1))
    assert with_work(consumers) == [behind.consumer, retrying.consumer]
    run_consumers(max_seconds=30, names=["behind", "retrying"])
    assert with_work(consumers) == []
    assert len(behind.seen) == 2 and len(retrying.seen) == 2


@pytest.mark.django_db
def test_publish_many_appends_in_order_and_a_consumer_reads_them_so(probes) -> None:
    from parley.core.publish import publish_many

    probes.append(reader := Probe("reader"))
    before = publish(_staff_event("before"))
    batch = [_staff_event(str(n)) for n in range(250)]  # more than one INSERT's chunk
    ids = publish_many(batch)
    assert len(ids) == 250 and ids == sorted(ids) and ids[0] > before
    stored = StreamEntry.objects.filter(id__in=ids).order_by("id")
    assert [e.payload["change"] for e in stored] == [str(n) for n in range(250)]
    assert publish_many([]) == []
    reader.run()
    assert reader.seen == [before, *ids]


@pytest.mark.django_db
def test_consumers_the_new_entries_hold_nothing_for_move_past_them_together(probes) -> None:
    """A round runs a batch (a transaction, a lock, a handler) only for the consumers that
    read some of the new entries; the others move past them in one statement, however many
    they are."""
    from django.test.utils import CaptureQueriesContext

    probes.append(reader := Probe("reads-everything"))
    idle: list[list[int]] = [[] for _ in range(6)]
    names = [f"deliveries-only-{n}" for n in range(6)]

    def recorder(seen: list[int]) -> Any:
        return lambda items: seen.extend(i.stream_id for i in items)

    for name, seen in zip(names, idle, strict=True):
        register(Consumer(name, recorder(seen), frozenset({DeliveryRecorded.name})))
    try:
        publish(_staff_event("first"))
        assert run_consumers(max_seconds=30, names=["reads-everything", *names])  # rows made
        counts = []
        for width in (1, 6):
            ids = [publish(_staff_event(str(n))) for n in range(3)]
            with CaptureQueriesContext(connection) as queries:
                assert run_consumers(max_seconds=30, names=["reads-everything", *names[:width]])
            counts.append(len(queries.captured_queries))
            assert reader.seen[-3:] == ids
            positions = dict(StreamConsumer.objects.values_list("name", "position"))
            assert all(positions[n] == ids[-1] for n in names[:width])
        assert counts[0] == counts[1]  # five more idle consumers cost no query more
        assert idle == [[] for _ in range(6)]
    finally:
        for name in names:
            unregister(name)


@pytest.mark.django_db
def test_a_run_with_nothing_to_do_is_one_read(probes) -> None:
    """The log's last id, the consumers' positions and their pending deliveries are one
    read: a wake that finds nothing new costs one statement, however many consumers."""
    from django.test.utils import CaptureQueriesContext

    probes.append(Probe("idle-one"))
    probes.append(Probe("idle-two"))
    publish(_staff_event("first"))
    assert run_consumers(max_seconds=30, names=["idle-one", "idle-two"])
    with CaptureQueriesContext(connection) as queries:
        assert run_consumers(max_seconds=30, names=["idle-one", "idle-two"])
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
def test_a_round_says_whether_the_log_holds_more_than_it_took(probes) -> None:
    """The workers pace their rounds only while the log trickles in: a round that took a
    full batch is followed at once, one that took all there was waits out the pace."""
    from parley.core.stream.runner import Pace, _round

    small = Probe("paced", batch_size=2)
    probes.append(small)
    ids = [publish(_staff_event(str(n))) for n in range(3)]
    moved, behind = _round([small.consumer])
    assert moved == [small.consumer] and behind and small.seen == ids[:2]
    moved, behind = _round([small.consumer])
    assert moved == [small.consumer] and not behind and small.seen == ids
    assert _round([small.consumer]) == ([], False)

    pace = Pace(0.1, deadline=1_000.0)
    pace.ran(500.0, behind=False)
    assert pace.next_at == pytest.approx(500.1)  # the next round waits for the trickle
    pace.ran(600.0, behind=True)
    assert pace.next_at == 0.0  # work left behind: at once


@pytest.mark.django_db(transaction=True)
def test_a_consumer_another_worker_holds_is_left_to_it(probes: list[Probe]) -> None:
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("one writer at a time: no row locks to skip")
    probes.append(probe := Probe("held"))
    ids = [publish(_staff_event(str(n))) for n in range(3)]
    StreamConsumer.objects.get_or_create(name="held")
    holding, release, released = threading.Event(), threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                StreamConsumer.objects.select_for_update().get(name="held")
                holding.set()
                release.wait(30)
        finally:
            connection.close()
            released.set()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(30)
        assert run_batch(probe.consumer) == 0  # skipped, not waited for
        assert probe.seen == []
    finally:
        release.set()
        thread.join(30)
    assert released.is_set()
    assert run_batch(probe.consumer) == 3
    assert probe.seen == ids
    assert StreamConsumer.objects.get(name="held").position == ids[-1]
