"""Billing actions: register agents, record message facts, rate and price them, replace a
business's rate card, finalise provisional events. Rating is deterministic: re-rating the
same facts replaces the same events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Collate

from billing.cards import get_rate_card
from billing.engine import (
    Agent,
    BillableEvent,
    BillingError,
    CategoryImmutableError,
    EventStatus,
    MessageFact,
    PricedEvent,
    RateCard,
    RateNotFoundError,
    RatingStats,
    UnknownCountryError,
    country_of,
    gc_paused,
    normalise_category,
    parse_rate_csv,
    price,
    rate,
    rate_stream,
)
from billing.models import BillableEventRecord, BillingAgent, MessageFactRecord, RateCardRow
from billing.records import (
    EVENT_COLUMNS,
    FACT_COLUMNS,
    FACT_READ_COLUMNS,
    FACT_UPDATES,
    event_row,
    fact_row,
    facts_from_rows,
)
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import Business, StaffUser
from parley.accounts.roles import Capability
from parley.core import clock
from parley.core.bulk import insert_rows, upsert_rows
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied


def do_create_agent(
    business: Business, *, agent_id: str, display_name: str, billing_category: str
) -> BillingAgent:
    agent_id = agent_id.strip()
    if not agent_id or len(agent_id) > 100:
        raise InvalidParameter("agent_id needs 1 to 100 characters.", field="agent_id")
    try:
        agent = Agent.create(agent_id, billing_category)
    except BillingError as exc:
        raise InvalidParameter(str(exc), field="billing_category") from exc
    try:
        with transaction.atomic():
            return BillingAgent.objects.create(
                business=business,
                agent_id=agent.agent_id,
                display_name=display_name.strip()[:100] or agent_id,
                billing_category=agent.category.value,
                legacy_category=agent.legacy_category or "",
                created_at=clock.now(),
            )
    except IntegrityError as exc:
        raise Conflict(f"Agent '{agent_id}' already exists.", field="agent_id") from exc


def do_change_agent_category(business: Business, agent_id: str, billing_category: str) -> None:
    """Refused unless it names the category the agent already has: it is fixed at creation."""
    record = BillingAgent.objects.filter(business=business, agent_id=agent_id).first()
    if record is None:
        raise NotFound(f"Agent '{agent_id}' does not exist.")
    try:
        Agent(record.agent_id, normalise_category(record.billing_category)).with_category(
            billing_category
        )
    except CategoryImmutableError as exc:
        raise Conflict(str(exc), field="billing_category") from exc
    except BillingError as exc:
        raise InvalidParameter(str(exc), field="billing_category") from exc


def _check_agents(business: Business, facts: list[MessageFact]) -> None:
    """Facts must agree with each agent's fixed category; unknown agents are registered
    with the category their first fact states."""
    known = dict(
        BillingAgent.objects.filter(business=business).values_list("agent_id", "billing_category")
    )
    new: dict[str, str] = {}
    for fact in facts:
        stated = fact.agent_category.value
        fixed = known.get(fact.agent_id) or new.setdefault(fact.agent_id, stated)
        if fixed != stated:
            raise InvalidParameter(
                f"message {fact.message_id}: agent {fact.agent_id} has billing category "
                f"{fixed}, not {stated}; an agent's category cannot change."
            )
    now = clock.now()
    BillingAgent.objects.bulk_create(
        [
            BillingAgent(
                business=business,
                agent_id=agent_id,
                display_name=agent_id,
                billing_category=category,
                created_at=now,
            )
            for agent_id, category in new.items()
        ],
        ignore_conflicts=True,
    )


def do_record_facts(business: Business, facts: Iterable[MessageFact]) -> int:
    """Store facts (a later fact for the same message updates its delivery outcome)."""
    batch = list(facts)
    with transaction.atomic():
        _check_agents(business, batch)
        rows = (fact_row(business.pk, f, _country(f)) for f in batch)
        return upsert_rows(
            MessageFactRecord,
            FACT_COLUMNS,
            rows,
            conflict=("business_id", "message_id"),
            update=FACT_UPDATES,
        )


def _country(fact: MessageFact) -> str:
    try:
        return fact.country or country_of(fact.customer)
    except UnknownCountryError as exc:
        raise InvalidParameter(
            f"Message {fact.message_id}: {exc}; nothing was recorded.", field="customer"
        ) from exc


def _priced(events: Iterable[BillableEvent], card: RateCard) -> Iterator[PricedEvent]:
    for event in events:
        try:
            yield price(event, card)
        except RateNotFoundError:
            # Still billable; the report shows it unpriced instead of losing it.
            event.reason = f"{event.reason} (no rate on the card)"[:120]
            yield PricedEvent(event, card.default_currency, Decimal(0), event.quantity)


def _fact_rows(business: Business, customers: Collection[str] | None) -> Iterator[tuple[Any, ...]]:
    """Raw rows in the engine's sort order, so they stream straight into the rater without
    the ORM's per-value converters or a sort in Python (a million rows are read at once)."""
    qs = MessageFactRecord.objects.filter(business=business)
    if customers is not None:
        qs = qs.filter(customer__in=list(customers))
    # Byte order, as Python compares strings, whatever the database's locale.
    collation = "C" if connection.vendor == "postgresql" else "BINARY"
    order = [Collate(F(c), collation) for c in ("customer", "channel", "agent_id")]
    qs = qs.order_by(
        *order, F("delivered_at").asc(nulls_last=True), Collate(F("message_id"), collation)
    )
    sql, params = qs.values_list(*FACT_READ_COLUMNS).query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _use_native_timestamps(cursor.cursor)
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(20_000):
            yield from batch


def _use_native_timestamps(raw_cursor: Any) -> None:
    """Django parses timestamptz in Python for its time-zone handling; the connection runs in
    UTC already, so psycopg's own (C) loader gives the same values three times faster."""
    import psycopg
    from psycopg.pq import Format

    oid = psycopg.postgres.types["timestamptz"].oid
    raw_cursor.adapters.register_loader(oid, psycopg.postgres.adapters.get_loader(oid, Format.TEXT))


def _facts_of(business: Business, customers: Collection[str] | None) -> Iterator[MessageFact]:
    return facts_from_rows(business.pk, _fact_rows(business, customers))


def _replace_events(
    business: Business, customers: Collection[str] | None, events: list[BillableEvent]
) -> None:
    stale = BillableEventRecord.objects.filter(business=business)
    if customers is not None:
        stale = stale.filter(customer__in=list(customers))
    stale.delete()
    card = get_rate_card(business.pk)
    insert_rows(
        BillableEventRecord,
        EVENT_COLUMNS,
        (event_row(business.pk, p) for p in _priced(events, card)),
    )


def do_rate(business: Business, *, customers: Collection[str] | None = None) -> RatingStats:
    """Re-rate a business's facts (all, or those of some customers) and replace their events.

    Conversations never span customers, so rating per customer gives the same events as
    rating everything."""
    stats = RatingStats()
    with transaction.atomic(), gc_paused():
        # Rated in full before writing: one connection cannot read rows during a COPY.
        events = list(rate_stream(_facts_of(business, customers), now=clock.now(), stats=stats))
        _replace_events(business, customers, events)
    return stats


def do_ingest_facts(business: Business, facts: Iterable[MessageFact]) -> RatingStats:
    """Record facts, then re-rate the customers they touch."""
    batch = {f.message_id: f for f in facts}  # a later fact of a message wins, as in the table
    with transaction.atomic():
        first_import = not MessageFactRecord.objects.filter(business=business).exists()
        do_record_facts(business, batch.values())
        customers = {f.customer for f in batch.values()}
        if len(customers) <= 5000:
            return do_rate(business, customers=customers)
        if first_import:
            # The facts in hand are all the business has: rate them instead of reading a
            # million rows back.
            with gc_paused():
                result = rate(batch.values(), now=clock.now())
                _replace_events(business, None, result.events)
            return result.stats
        return do_rate(business)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def do_finalise_events(*, now: dt.datetime | None = None) -> int:
    """Provisional conversation events become final two days after they end."""
    moment = now or clock.now()
    return BillableEventRecord.objects.filter(
        status=EventStatus.PROVISIONAL.value, final_at__lte=moment
    ).update(status=EventStatus.FINAL.value)


def do_replace_rate_card(
    actor: StaffUser | None,
    business: Business,
    csv_text: str | bytes,
    *,
    actor_label: str = "",
) -> int:
    """Replace the business's rate card with the rows of a CSV file (validated whole first).

    ``csv_text`` may be the file's bytes: they must be UTF-8, and saying so is the parser's
    job. Every error says in words what is wrong, and on which row."""
    if actor is not None and not actor.can(Capability.MANAGE_BILLING):
        raise PermissionDenied("Only administrators may edit the rate card.")
    if len(csv_text) > 2_000_000:
        raise InvalidParameter("The rate card is too large (2 MB at most).", field="rate_card")
    try:
        card = parse_rate_csv(csv_text)
    except BillingError as exc:
        raise InvalidParameter(_sentence(str(exc)), field="rate_card") from exc
    with transaction.atomic():
        RateCardRow.objects.filter(business=business).delete()
        RateCardRow.objects.bulk_create(
            RateCardRow(
                business=business,
                country=r.country,
                item=r.item,
                currency=r.currency,
                unit_price=r.unit_price,
                effective_from=r.effective_from,
            )
            for r in card.rows
        )
        do_record_audit(
            "billing.rate_card_replaced",
            business_id=business.pk,
            actor=actor,
            actor_label=actor_label,
            details={"rows": len(card.rows)},
        )
    return len(card.rows)
