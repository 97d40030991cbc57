"""The rating entry points: facts in, billable events out.

One pass over facts sorted by :func:`sort_key` — (customer, channel, agent, delivery time,
message id) — with O(1) state for the one (customer, channel, agent) key being rated. The
customer comes first because it is the most selective part of the key: the batch API
groups by customer (a dict of strings, no sort of the whole input) and only sorts within a
customer's few facts. Sorting first
makes the result independent of input order, and event ids are derived from the opening
message, so re-rating the same facts always gives the same events.

* :func:`rate` (batch): any order, returns every event and counts.
* :func:`rate_stream` (streaming): facts already in :func:`sort_key` order (e.g. a DB query
  ordered the same way), events yielded as each key completes; raises
  :class:`UnsortedFactsError` on out-of-order input.

A message has one fact. The same fact given twice (same message id, identical fields) is
counted once; two different facts under one message id raise :class:`DuplicateFactError`.
:func:`rate` checks every id; :func:`rate_stream` keeps O(1) state, so it recognises a
repeat next to its twin (where :func:`sort_key` order puts an exact repeat) and relies on
its source for the rest (a query of a table keyed by message id).

Undelivered facts are skipped: counted as ``pending`` while they may still be delivered,
as ``expired`` (never billed) once flagged or 30 days after sending, judged at ``now``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter

from billing.engine.categories import AgentRegistry, BillingCategory
from billing.engine.countries import country_of
from billing.engine.errors import (
    CategoryImmutableError,
    DuplicateFactError,
    InvalidFactError,
    UnsortedFactsError,
)
from billing.engine.events import BillableEvent
from billing.engine.facts import EXPIRY, Channel, MessageFact
from billing.engine.standard import StandardRater
from billing.engine.us import US_REGION, us_event
from billing.engine.whatsapp import WhatsAppRater

SortKey = tuple[str, str, str, datetime, str]

# Order of a customer's facts; channel is a StrEnum, so it sorts as its string value.
_within_customer = attrgetter("channel", "agent_id", "delivered_at", "message_id")


def sort_key(fact: MessageFact) -> SortKey:
    """The engine's processing order; only defined for delivered facts."""
    if fact.delivered_at is None:
        raise InvalidFactError(f"message {fact.message_id!r} is not delivered: it has no order")
    return (fact.customer, fact.channel, fact.agent_id, fact.delivered_at, fact.message_id)


def sort_facts(facts: Iterable[MessageFact]) -> list[MessageFact]:
    """Delivered facts in :func:`sort_key` order (undelivered ones are dropped).

    Same result as ``sorted(..., key=sort_key)``, about twice as fast: facts are grouped per
    customer in a dict and only each customer's handful of facts is sorted.
    """
    by_customer: dict[str, list[MessageFact]] = {}
    for fact in facts:
        if fact.delivered_at is None:
            continue
        group = by_customer.get(fact.customer)
        if group is None:
            by_customer[fact.customer] = [fact]
        else:
            group.append(fact)
    ordered: list[MessageFact] = []
    extend = ordered.extend
    for customer in sorted(by_customer):
        group = by_customer[customer]
        if len(group) > 1:
            group.sort(key=_within_customer)
        extend(group)
    return ordered


@dataclass(slots=True)
class RatingStats:
    facts: int = 0
    delivered: int = 0
    pending: int = 0  # not delivered yet: may still be delivered and billed later
    expired: int = 0  # never delivered within 30 days: never billed
    events: int = 0


@dataclass(slots=True)
class RatingResult:
    events: list[BillableEvent] = field(default_factory=list)
    stats: RatingStats = field(default_factory=RatingStats)


def duplicate_error(first: MessageFact, second: MessageFact) -> DuplicateFactError:
    """The error for two different facts given under one message id, naming a difference."""
    differs = next(
        (f.name for f in fields(first) if getattr(first, f.name) != getattr(second, f.name)),
        "",
    )
    detail = ""
    if differs:
        one, two = (_shown(getattr(x, differs)) for x in (first, second))
        detail = f" ({differs}: {one} and {two})"
    return DuplicateFactError(
        f"message {first.message_id!r} is given twice with different facts{detail}; "
        "give one fact per message (its latest delivery outcome)"
    )


def _shown(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def is_expired(fact: MessageFact, now: datetime) -> bool:
    """An undelivered fact that will never be delivered (flagged, or 30 days old at now)."""
    return fact.delivered_at is None and (fact.expired or now - fact.sent_at >= EXPIRY)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a batch.

    The engine allocates many small objects but never a reference cycle, so the collector
    only re-scans live facts and events to free nothing: pausing it saves ~40 % of the
    rating time. Reference counting still frees everything. Restores the previous state.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rate(
    facts: Iterable[MessageFact],
    *,
    now: datetime,
    registry: AgentRegistry | None = None,
) -> RatingResult:
    """Rate facts given in any order (batch API); same events whatever the order."""
    with gc_paused():
        return _rate(facts, now, registry)


def _rate(
    facts: Iterable[MessageFact], now: datetime, registry: AgentRegistry | None
) -> RatingResult:
    result = RatingResult()
    stats = result.stats
    by_id: dict[str, MessageFact] = {}
    setdefault = by_id.setdefault
    for fact in facts:
        kept = setdefault(fact.message_id, fact)
        if kept is not fact and kept != fact:
            raise duplicate_error(kept, fact)
    facts = by_id.values()  # an exact repeat is counted once
    for fact in facts:
        if fact.delivered_at is None:
            stats.facts += 1
            _count_undelivered(fact, now, stats)
    ordered = sort_facts(facts)
    result.events.extend(rate_stream(ordered, now=now, registry=registry, stats=stats))
    return result


def rate_stream(
    facts: Iterable[MessageFact],
    *,
    now: datetime,
    registry: AgentRegistry | None = None,
    stats: RatingStats | None = None,
) -> Iterator[BillableEvent]:
    """Rate facts in :func:`sort_key` order, yielding each key's events when it completes.

    ``registry`` (optional) enforces each agent's one billing category across calls.
    ``stats``, if given, is updated in place.
    """
    if now.tzinfo is None:
        raise InvalidFactError("now must be timezone-aware")
    registry = AgentRegistry() if registry is None else registry
    stats = RatingStats() if stats is None else stats
    standard = StandardRater()
    whatsapp = WhatsAppRater()
    out: list[BillableEvent] = []
    feed = standard.feed
    finish = standard.finish
    key: SortKey | None = None
    agent = customer = ""
    channel: str = ""
    category = BillingCategory.CONVERSATIONAL
    last_at: datetime | None = None
    last_id = ""
    last: MessageFact | None = None
    us = False
    country = ""
    n_facts = n_delivered = n_events = 0
    for fact in facts:
        n_facts += 1
        at = fact.delivered_at
        if at is None:
            _count_undelivered(fact, now, stats)
            continue
        n_delivered += 1
        if fact.customer != customer or fact.channel != channel or fact.agent_id != agent:
            # A new (customer, channel, agent) key: close the previous one.
            new_key = sort_key(fact)
            if key is not None:
                if new_key <= key:
                    raise UnsortedFactsError(
                        f"message {fact.message_id!r} comes after a later key; "
                        "sort facts with billing.engine.sort_key"
                    )
                finish(out)
                if out:
                    n_events += len(out)
                    yield from out
                    out.clear()
            key = new_key
            channel, agent, customer = fact.channel, fact.agent_id, fact.customer
            category = fact.agent_category
            registry.check(agent, category)
            country = fact.country or country_of(customer)
            if channel is Channel.WHATSAPP:
                us = False
                whatsapp.start(country, now)
                feed, finish = whatsapp.feed, whatsapp.finish
            else:
                us = country == US_REGION
                standard.start(country, category is BillingCategory.CONVERSATIONAL, now)
                feed, finish = standard.feed, standard.finish
        else:
            assert last_at is not None
            if at < last_at or (at == last_at and fact.message_id <= last_id):
                if at == last_at and fact.message_id == last_id:
                    assert last is not None
                    if fact != last:
                        raise duplicate_error(last, fact)
                    n_facts -= 1  # the same fact again: counted once
                    n_delivered -= 1
                    continue
                raise UnsortedFactsError(
                    f"message {fact.message_id!r} is out of delivery order; "
                    "sort facts with billing.engine.sort_key"
                )
            if fact.agent_category is not category:
                raise CategoryImmutableError(
                    f"agent {agent!r} appears with billing categories {category} and "
                    f"{fact.agent_category}; a category cannot change"
                )
        last_at = at
        last_id = fact.message_id
        last = fact
        if us:
            event = us_event(fact, country, now)
            if event is not None:
                n_events += 1
                yield event
        else:
            feed(fact, out)
    if key is not None:
        finish(out)
        n_events += len(out)
        yield from out
    stats.facts += n_facts
    stats.delivered += n_delivered
    stats.events += n_events


def _count_undelivered(fact: MessageFact, now: datetime, stats: RatingStats) -> None:
    if is_expired(fact, now):
        stats.expired += 1
    else:
        stats.pending += 1
