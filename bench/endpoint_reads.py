"""What a business endpoint reads every turn, as the number's history grows: its next
messages to send (up to a batch of 100) and the messages a page of 100 delivery receipts is
about, each timed with its action, on the configured database (DATABASE_URL; default: a
fresh SQLite file). Prints figures; asserts nothing about time.

The history is delivered business messages to 1,000 customers, written straight into the
tables; the database's statistics are refreshed after each step (ANALYZE, as autovacuum
would). The baseline in the same run is the same turn on the same number before it has any
history: a turn should cost the same whatever the number sent before.

    .venv/bin/python bench/endpoint_reads.py                 # history 0, 20,000, 100,000
    .venv/bin/python bench/endpoint_reads.py 0 5000 --turns 10
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from bootstrap import p50_p99_ms, setup_django

setup_django()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from parley.accounts.models import Business, PhoneNumber  # noqa: E402
from parley.core import clock  # noqa: E402
from parley.messaging import actions, selectors  # noqa: E402
from parley.messaging.actions import Outbound  # noqa: E402
from parley.messaging.content import Text  # noqa: E402
from parley.messaging.models import Conversation, Message  # noqa: E402

CUSTOMERS = 1000
T = TypeVar("T")
BATCH = 100


def _number() -> PhoneNumber:
    now = clock.now()
    business = Business.objects.create(name="Reads", slug="reads", country="US", created_at=now)
    return PhoneNumber.objects.create(
        business=business, e164="+14155550100", country="US", display_name="Reads",
        status=PhoneNumber.Status.CONNECTED, created_at=now,
    )  # fmt: skip


def _customers() -> list[str]:
    return [f"+9198765{i:05d}" for i in range(CUSTOMERS)]


def _grow(number: PhoneNumber, to: int) -> None:
    """Delivered messages straight into the tables until the number has `to` of them."""
    now = clock.now()
    conversations = {c.customer: c.pk for c in Conversation.objects.filter(number=number)}
    if not conversations:
        made = Conversation.objects.bulk_create(
            Conversation(business_id=number.business_id, number=number, customer=x,
                         created_at=now, last_message_at=now)
            for x in _customers()
        )  # fmt: skip
        conversations = {c.customer: c.pk for c in made}
    # The message's own number where the schema has one (older schemas reach it through
    # the conversation only).
    own = {"number_id": number.pk} if any(f.name == "number" for f in Message._meta.fields) else {}
    have = Message.objects.filter(business_id=number.business_id).count()
    ids = list(conversations.values())
    while have < to:
        step = min(5000, to - have)
        Message.objects.bulk_create(
            Message(business_id=number.business_id, conversation_id=ids[(have + i) % len(ids)],
                    wamid=f"wamid.{uuid.uuid4().hex}", direction="outbound",
                    content_type="text", content={"type": "text", "body": "old"},
                    status="delivered", created_at=now, accepted_at=now, sent_at=now,
                    delivered_at=now, **own)
            for i in range(step)
        )  # fmt: skip
        have += step
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def _turns(number: PhoneNumber, turns: int) -> tuple[list[float], list[float]]:
    """Each turn: accept a batch, read it as the endpoint does (timed), record its
    envelopes, then apply a page of delivery receipts for it (timed)."""
    customers = _customers()
    reads, receipts = [], []
    for turn in range(turns):
        sends = [Outbound(customers[(turn * BATCH + i) % CUSTOMERS], Text(f"t{turn}.{i}"))
                 for i in range(BATCH)]  # fmt: skip
        actions.do_send_messages(number, sends, deliver=False)
        ms, batch = _timed(lambda: list(selectors.list_messages_to_send(number, limit=BATCH)))
        reads.append(ms)
        assert len(batch) == BATCH, len(batch)
        guids = [str(uuid.uuid4()) for _ in batch]
        actions.do_record_sent_envelopes([(m.pk, g, 1) for m, g in zip(batch, guids, strict=True)])
        page = [(g, "delivery") for g in guids]
        ms, moved = _timed(lambda: actions.do_apply_receipts(number, page))  # noqa: B023
        receipts.append(ms)
        assert moved == BATCH, moved
    return reads, receipts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("histories", type=int, nargs="*", default=[0, 20_000, 100_000])
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    number = _number()
    print(f"{connection.vendor}: a turn of {BATCH} messages, {args.turns} turns per history")
    base: tuple[float, float] | None = None
    for history in sorted(args.histories):
        _grow(number, history)
        reads, receipts = _turns(number, args.turns)
        medians = statistics.median(reads), statistics.median(receipts)
        base = base or medians
        print(
            f"  history {history:>7,}: next {BATCH} to send {p50_p99_ms(reads)} "
            f"({medians[0] / base[0]:.1f} times the first);  "
            f"a page of receipts {p50_p99_ms(receipts)} "
            f"({medians[1] / base[1]:.1f} times)",
            flush=True,
        )


if __name__ == "__main__":
    main()
