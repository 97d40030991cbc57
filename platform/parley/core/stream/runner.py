"""Moving the consumers through the log, one batch per transaction.

Each batch locks the consumer's row (other workers skip it), handles the entries after its
position up to the safe bound, parks failures as pending deliveries and saves the new
position, all in one transaction. A run of every consumer goes in rounds, a batch of each
consumer with work a round: the round reads the positions, the safe bound and the log's new
entries once for all of them (each consumer takes those it reads), and a consumer with
nothing held back skips the retries' reads.

Order per key: an entry waiting for a retry, or dead, holds back the later entries of its
key for that consumer only; they wait as pending deliveries and run, in stream order, once
it succeeds, or once an administrator re-drives a dead letter (it then runs first) or
discards it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

from celery import current_task
from django.conf import settings
from django.db import connection, transaction

from parley.core import clock
from parley.core.events import Event
from parley.core.models import StreamConsumer, StreamEntry, StreamPending
from parley.core.stream import log as stream_log
from parley.core.stream import wake
from parley.core.stream.consumers import Consumer, Delivery, registered

log = logging.getLogger(__name__)

# Pending deliveries looked at per batch when choosing the heads of their keys.
PENDING_WINDOW = 5000


def backoff(attempts: int) -> dt.timedelta:
    """Delay before attempt `attempts + 1`: base * 2 ** (attempts - 1), capped."""
    base = float(settings.PARLEY["STREAM_RETRY_BASE_SECONDS"])
    cap = float(settings.PARLEY["STREAM_RETRY_MAX_SECONDS"])
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def max_attempts(c: Consumer) -> int:
    return c.max_attempts or int(settings.PARLEY["STREAM_MAX_ATTEMPTS"])


Parsed = dict[int, Event]


def _delivery(entry: stream_log.Row, parsed: Parsed) -> Delivery:
    """The entry as its consumer receives it; `parsed`: the events already read, by entry
    id (events are immutable, so the consumers of a round share one of each)."""
    event = parsed.get(entry.id)
    if event is None:
        event = parsed[entry.id] = stream_log.to_event(entry)
    return Delivery(entry.id, entry.key, event)


def _attempt(
    c: Consumer, entries: list[stream_log.Row], parsed: Parsed | None = None
) -> Exception | None:
    """Run the handler on the entries inside a savepoint: all or nothing."""
    parsed = {} if parsed is None else parsed
    try:
        with transaction.atomic():
            c.handle_batch([_delivery(e, parsed) for e in entries])
    except Exception as exc:
        return exc
    return None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _park(c: Consumer, entry: stream_log.Row, now: dt.datetime, error: Exception | None) -> None:
    """Record a failed entry (first attempt) or one held behind its key."""
    if error is not None:
        log.warning("stream consumer %s failed on #%s: %s", c.name, entry.id, _describe(error))
    dead = error is not None and max_attempts(c) <= 1
    StreamPending.objects.create(
        consumer=c.name,
        entry_id=entry.id,
        key=entry.key,
        attempts=1 if error is not None else 0,
        state=StreamPending.DEAD if dead else StreamPending.RETRY,
        next_attempt_at=now + backoff(1) if error is not None else now,
        last_error=_describe(error) if error is not None else "",
    )


def _dead_keys(c: Consumer) -> set[str]:
    return set(
        StreamPending.objects.filter(consumer=c.name, state=StreamPending.DEAD)
        .values_list("key", flat=True)
        .distinct()
    )


def _run_pending(c: Consumer, now: dt.datetime, budget: int) -> int:
    """Retry the due heads of the keys with pending deliveries; returns how many ran."""
    ran = 0
    while ran < budget:
        rows = list(
            StreamPending.objects.filter(consumer=c.name, state=StreamPending.RETRY).order_by(
                "entry_id"
            )[:PENDING_WINDOW]
        )
        if not rows:
            return ran
        # A dead letter holds its key: what follows it waits for a person's decision.
        dead = _dead_keys(c)
        heads: dict[str, StreamPending] = {}
        for row in rows:
            if row.key not in dead:
                heads.setdefault(row.key, row)
        due = sorted(
            (p for p in heads.values() if p.next_attempt_at <= now), key=lambda p: p.entry_id
        )
        if not due:
            return ran
        ids = [p.entry_id for p in due]
        entries = {r.id: r for r in stream_log.rows(StreamEntry.objects.filter(id__in=ids))}
        for pending in due[: budget - ran]:
            ran += 1
            entry = entries.get(pending.entry_id)
            error = (
                _attempt(c, [entry])
                if entry is not None
                else LookupError(f"entry #{pending.entry_id} is no longer in the log")
            )
            if error is None:
                pending.delete()
                continue
            pending.attempts += 1
            pending.last_error = _describe(error)
            pending.next_attempt_at = now + backoff(pending.attempts)
            if pending.attempts >= max_attempts(c):
                pending.state = StreamPending.DEAD
                log.error("stream consumer %s dead-lettered #%s", c.name, pending.entry_id)
            pending.save(update_fields=["attempts", "last_error", "next_attempt_at", "state"])
    return ran


def _run_new(
    c: Consumer,
    entries: list[stream_log.Row],
    now: dt.datetime,
    blocked: set[str],
    parsed: Parsed | None = None,
) -> int:
    runnable = [e for e in entries if e.key not in blocked]
    if runnable and _attempt(c, runnable, parsed) is None:
        for entry in entries:
            if entry.key in blocked:
                _park(c, entry, now, None)
        return len(runnable)
    # Something failed (or everything is held): one entry at a time, in stream order.
    handled = 0
    for entry in entries:
        if entry.key in blocked:
            _park(c, entry, now, None)
            continue
        error = _attempt(c, [entry], parsed)
        if error is None:
            handled += 1
        else:
            _park(c, entry, now, error)
            blocked.add(entry.key)
    return handled


def _pending_keys(c: Consumer) -> set[str]:
    """The keys this consumer holds back (deliveries waiting for a retry, or dead)."""
    return set(
        StreamPending.objects.filter(consumer=c.name).values_list("key", flat=True).distinct()
    )


class Window:
    """The log's entries after a position up to a bound, read once for every consumer of a
    round (each takes those after its own position that it reads), instead of one read per
    consumer. At most `limit` entries: beyond the last one read, a consumer reads its own."""

    def __init__(self, after: int, bound: int, limit: int = 1000) -> None:
        self.after = after
        self.rows = stream_log.rows(
            StreamEntry.objects.filter(id__gt=after, id__lte=bound).order_by("id")[:limit]
        )
        self.covered = self.rows[-1].id if len(self.rows) == limit else bound
        self.parsed: Parsed = {}

    def take(self, c: Consumer, position: int) -> tuple[list[stream_log.Row], int] | None:
        """The consumer's next entries after `position` and the id they cover up to (its
        position when they are not a full batch); None when the window cannot say."""
        if position < self.after or position >= self.covered:
            return None
        taken: list[stream_log.Row] = []
        for row in self.rows:
            if row.id > position and (c.events is None or row.name in c.events):
                taken.append(row)
                if len(taken) == c.batch_size:
                    return taken, row.id
        return taken, max(position, self.covered)


def _advance(
    c: Consumer,
    state: StreamConsumer,
    *,
    now: dt.datetime,
    bound: int,
    window: Window | None,
    blocked: set[str],
) -> int:
    """The body of a batch, inside the transaction that holds the consumer's row: due
    retries, then the entries after its position; returns how much moved (the state's
    position and counters are updated, not saved)."""
    moved = _run_pending(c, now, c.batch_size) if blocked else 0
    if moved:
        blocked = _pending_keys(c)
    handled = moved
    if state.position < bound:
        taken = window.take(c, state.position) if window is not None else None
        if taken is None:
            qs = StreamEntry.objects.filter(id__gt=state.position, id__lte=bound).order_by("id")
            if c.events is not None:
                qs = qs.filter(name__in=sorted(c.events))
            entries = stream_log.rows(qs[: c.batch_size])
            covered = entries[-1].id if len(entries) == c.batch_size else bound
        else:
            entries, covered = taken
        parsed = window.parsed if window is not None else None
        handled += _run_new(c, entries, now, blocked, parsed) if entries else 0
        moved += len(entries) or int(covered > state.position)
        state.position = max(state.position, covered)
    if moved:
        state.processed += handled
        state.updated_at = now
    return moved


def run_batch(c: Consumer) -> int:
    """One batch for one consumer; returns how much moved (0: nothing to do, or another
    worker holds this consumer)."""
    state, _ = StreamConsumer.objects.get_or_create(name=c.name)
    # Before the transaction: our own transaction id must not hold the bound back.
    bound = stream_log.safe_bound(state.position)
    with transaction.atomic():
        locked = _lock(c)
        if locked is None:
            return 0
        now = clock.now()
        moved = _advance(c, locked, now=now, bound=bound, window=None, blocked=_pending_keys(c))
        if moved:
            _save([locked])
        return moved


def _lock(c: Consumer) -> StreamConsumer | None:
    """Lock the consumer's row for this transaction; None when another worker holds it (or
    it has none). A plain statement: it runs for every consumer of every round, and the
    ORM's query, compiled anew each time, cost about twice its CPU with its transaction."""
    sql = "SELECT position, processed FROM core_stream_consumer WHERE name = %s"
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE SKIP LOCKED"
    with connection.cursor() as cursor:
        cursor.execute(sql, [c.name])
        row = cursor.fetchone()
    return None if row is None else StreamConsumer(name=c.name, position=row[0], processed=row[1])


def _run_one(c: Consumer, bound: int, window: Window | None, seen: Round) -> int:
    """A batch of one consumer of a round, in its own transaction (a consumer whose handler
    is slow or waits holds back no other): as `run_batch`, with the round's bound and
    entries, and a plain statement to save its position."""
    with transaction.atomic():
        state = _lock(c)
        if state is None:
            return 0  # another worker holds it
        now = clock.now()
        # Keys are held back only by pending deliveries, and those are written with a move
        # of the position: none at the round's start and the same position now, none now.
        unchanged = state.position == seen.positions.get(c.name, 0)
        blocked = _pending_keys(c) if c.name in seen.pending or not unchanged else set()
        moved = _advance(c, state, now=now, bound=bound, window=window, blocked=blocked)
        if moved:
            _save([state])
        return moved


_SAVE = (
    "UPDATE core_stream_consumer SET position = %s, processed = %s, updated_at = %s WHERE name = %s"
)


def _save(states: list[StreamConsumer]) -> None:
    """Save the consumers' positions: one plain statement (this runs for every batch)."""
    if not states:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            _SAVE, [(s.position, s.processed, adapt(s.updated_at), s.name) for s in states]
        )


@dataclasses.dataclass(frozen=True)
class Round:
    """What a round reads once for all its consumers: the log's last id, their positions,
    those with retries due and those with any pending delivery (due or not, or dead)."""

    last: int
    positions: dict[str, int]
    due: set[str]
    pending: set[str]

    def working(self, consumers: list[Consumer]) -> list[Consumer]:
        return [c for c in consumers
                if self.positions.get(c.name, 0) < self.last or c.name in self.due]  # fmt: skip


def _state(consumers: list[Consumer]) -> Round:
    """One read for all the consumers: the log's last id, their positions, and which of
    them have pending deliveries (any, and a retry due by now)."""
    names = [c.name for c in consumers]
    if not names:
        return Round(stream_log.last_id(), {}, set(), set())
    marks = ", ".join(["%s"] * len(names))
    now = connection.ops.adapt_datetimefield_value(clock.now())
    last, positions, due, pending = 0, dict[str, int](), set[str](), set[str]()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 0, '', (SELECT max(id) FROM core_stream_entry)"
            f" UNION ALL SELECT 1, name, position FROM core_stream_consumer WHERE name IN ({marks})"
            " UNION ALL SELECT 2, consumer,"
            " max(CASE WHEN state = %s AND next_attempt_at <= %s THEN 1 ELSE 0 END)"
            f" FROM core_stream_pending WHERE consumer IN ({marks}) GROUP BY consumer",
            [*names, StreamPending.RETRY, now, *names],
        )
        for kind, name, value in cursor.fetchall():
            if kind == 0:
                last = int(value or 0)
            elif kind == 1:
                positions[name] = int(value)
            else:
                pending.add(name)
                if value:
                    due.add(name)
    return Round(last, positions, due, pending)


def with_work(consumers: list[Consumer]) -> list[Consumer]:
    """The consumers with anything to do: entries past their position, or retries due. Three
    reads for all of them, so a wake with little to do stays cheap."""
    return _state(consumers).working(consumers)


_SKIP_PG = (
    "UPDATE core_stream_consumer AS c SET position = v.covered, updated_at = %s"
    " FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS v(name, seen, covered)"
    " WHERE c.name = v.name AND c.position >= v.seen AND c.position < v.covered"
    " AND c.name IN (SELECT name FROM core_stream_consumer WHERE name = ANY(%s)"
    " FOR UPDATE SKIP LOCKED) RETURNING c.name"
)
_SKIP = (
    "UPDATE core_stream_consumer SET position = %s, updated_at = %s"
    " WHERE name = %s AND position >= %s AND position < %s"
)


def _skip(passing: list[tuple[Consumer, int, int]], now: dt.datetime) -> list[Consumer]:
    """Move the consumers the round's entries hold nothing for (consumer, the position
    the round read, the id the entries cover up to) past them in one statement: no
    transaction, lock or handler each. A consumer another worker holds, or whose position
    moved meanwhile, is left for its own batch. Returns those moved."""
    if not passing:
        return []
    by_name = {c.name: c for c, _, _ in passing}
    names = list(by_name)
    if connection.vendor == "postgresql":
        seen = [s for _, s, _ in passing]
        covered = [v for _, _, v in passing]
        with connection.cursor() as cursor:
            cursor.execute(_SKIP_PG, [now, names, seen, covered, names])
            return [by_name[row[0]] for row in cursor.fetchall()]
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(_SKIP, [(v, adapt(now), c.name, s, v) for c, s, v in passing])
    return [c for c, _, _ in passing]


def _round(consumers: list[Consumer]) -> tuple[list[Consumer], bool]:
    """One batch for each consumer with work; returns those that moved, and whether the
    log holds more than one round takes (a consumer took a full batch, or the round's
    entries stop short of the bound). The consumers' state, the safe bound and the entries
    past the lowest position are read once for the round; the consumers none of those
    entries are for move past them together."""
    seen = _state(consumers)
    working = seen.working(consumers)
    if not working:
        return [], False
    for c in working:
        if c.name not in seen.positions:
            StreamConsumer.objects.get_or_create(name=c.name)
    lowest = min(seen.positions.get(c.name, 0) for c in working)
    # Before any consumer's transaction: our own transaction must not hold the bound back.
    bound = stream_log.safe_bound(lowest, last=seen.last)
    window = Window(lowest, bound) if lowest < bound else None
    passing: list[tuple[Consumer, int, int]] = []
    running: list[Consumer] = []
    for c in working:
        position = seen.positions.get(c.name, 0)
        taken = window.take(c, position) if window is not None and c.name not in seen.due else None
        if taken is not None and not taken[0]:
            passing.append((c, position, taken[1]))
        else:
            running.append(c)
    moved = _skip(passing, clock.now())
    ran = [(c, _run_one(c, bound, window, seen)) for c in running]
    behind = any(n >= c.batch_size for c, n in ran) or (
        window is not None and window.covered < bound
    )
    return moved + [c for c, n in ran if n], behind


class Pace:
    """The workers' rounds at most one per `seconds` while each finds less than it can take
    (a steady trickle of events): the entries of that time go in one round instead of one
    round each, whose reads and transactions cost more than the handlers of a few events.
    A round that leaves work behind is followed at once."""

    def __init__(self, seconds: float, deadline: float) -> None:
        self.seconds = seconds
        self.deadline = deadline
        self.next_at = 0.0

    def wait(self) -> None:
        delay = min(self.next_at, self.deadline) - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def ran(self, started: float, behind: bool) -> None:
        self.next_at = 0.0 if behind else started + self.seconds


def run_consumers(
    max_seconds: float | None = None,
    names: list[str] | None = None,
    *,
    shared_only: bool = False,
) -> bool:
    """Run every registered consumer (or those named; with `shared_only`, none that a
    process of its own runs) until all are caught up or the time budget is spent; returns
    True when all are caught up.

    The workers' runs of the shared consumers (in a Celery task, `shared_only`, all of them)
    take turns: while one runs, another that is woken leaves it a note and returns at once
    (True: the running one goes round again for what it was woken for), so a second worker
    process is not held in rounds that mostly find the consumers locked, and stays free for
    other tasks. A run called directly (a command, a test) runs whatever the workers do."""
    budget = float(settings.PARLEY["STREAM_RUN_SECONDS"]) if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    active = [
        c
        for n, c in sorted(registered().items())
        if (names is None or n in names) and not (shared_only and c.dedicated)
    ]
    if not (shared_only and names is None and current_task):
        return _run_until_caught_up(active, deadline)
    names = [c.name for c in active]
    pace = Pace(float(settings.PARLEY["STREAM_ROUND_SECONDS"]), deadline)
    while True:
        with wake.runner_turn(names) as turn:
            if turn is None:
                return True  # the running worker goes round again
            if not _run_until_caught_up(active, deadline, turn=turn, pace=pace):
                return False
        if not wake.take_runner_note(names):
            return True
        if time.monotonic() >= deadline:
            return False  # the caller wakes another run


def _run_until_caught_up(
    active: list[Consumer],
    deadline: float,
    *,
    turn: wake.Turn | None = None,
    pace: Pace | None = None,
) -> bool:
    while active:
        if pace is not None:
            pace.wait()
        started = time.monotonic()
        active, behind = _round(active)
        if pace is not None:
            pace.ran(started, behind)
        if turn is not None:
            turn.keep()
        if active and time.monotonic() >= deadline:
            return False
    return True
