"""Billing reads: usage, events, invoices and estimates for one business."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from billing.cards import get_rate_card
from billing.engine import (
    BillingError,
    CampaignEstimate,
    EventStatus,
    Invoice,
    InvoiceLine,
    PeriodStatus,
    UnknownCountryError,
    WaCategory,
    estimate_campaign,
    exact_amount,
    invoice_of,
    is_period,
    period_status,
)
from billing.models import BillableEventRecord, BillingAgent
from parley.accounts.models import Business
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound


def check_period(period: str) -> str:
    if not is_period(period or ""):
        raise InvalidParameter(
            "period must be a month written YYYY-MM, such as 2026-05.", field="period"
        )
    return period


def list_events(
    business_id: int,
    *,
    period: str = "",
    event_type: str = "",
    customer: str = "",
    status: str = "",
) -> QuerySet[BillableEventRecord]:
    qs = BillableEventRecord.objects.filter(business_id=business_id)
    if period:
        qs = qs.filter(period=check_period(period))
    if event_type:
        qs = qs.filter(event_type=event_type)
    if customer:
        qs = qs.filter(customer=customer)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("start", "event_id")


def get_usage(business_id: int, period: str) -> dict[str, Any]:
    """Events, messages and amounts by model and type for a month."""
    rows = (
        list_events(business_id, period=period)
        .values("model", "event_type", "status")
        .annotate(events=Count("id"), mt=Sum("mt_messages"), mo=Sum("mo_messages"))
        .order_by("model", "event_type", "status")
    )
    invoice = get_invoice(business_id, period)
    status = get_period_status(business_id, period)
    return {
        "period": period,
        "by_type": [
            {
                "model": r["model"],
                "type": r["event_type"],
                "status": r["status"],
                "events": r["events"],
                "mt_messages": r["mt"] or 0,
                "mo_messages": r["mo"] or 0,
            }
            for r in rows
        ],
        "totals": {currency: str(total) for currency, total in invoice.totals.items()},
        "status": status.value,
        "final": status is PeriodStatus.FINAL,
    }


def get_period_status(business_id: int, period: str) -> PeriodStatus:
    """Open until the month ends; provisional for the 2-day finalisation after it, and as
    long as any of its events may still change; then final (on the simulation clock)."""
    now = clock.now()
    pending = (
        list_events(business_id, period=period)
        .filter(Q(final_at__gt=now) | Q(status=EventStatus.PROVISIONAL.value))
        .exists()
    )
    return period_status(period, now, events_pending=pending)


def get_invoice(business_id: int, period: str) -> Invoice:
    """The month's invoice: lines by country and item at one unit price each, aggregated in
    the database; line totals exact, each currency's total rounded once (the engine's rule)."""
    grouped = (
        list_events(business_id, period=period)
        .values("country", "event_type", "whatsapp_category", "currency", "unit_price")
        .annotate(events=Count("id"), quantity=Sum("quantity"))
        .order_by("country", "event_type", "whatsapp_category", "currency", "unit_price")
    )
    lines: list[InvoiceLine] = []
    for g in grouped:
        item = g["event_type"] + (f":{g['whatsapp_category']}" if g["whatsapp_category"] else "")
        unit = Decimal(g["unit_price"])
        total = exact_amount(unit * g["quantity"])
        lines.append(
            InvoiceLine(g["country"], item, g["currency"], unit, g["events"], g["quantity"], total)
        )
    return invoice_of(lines)


def get_estimate(
    business_id: int,
    *,
    volume: int | dict[str, int],
    countries: Sequence[str],
    categories: Sequence[str],
    on: dt.date,
) -> CampaignEstimate:
    try:
        cats = [WaCategory(c) for c in categories]
    except ValueError as exc:
        raise InvalidParameter(
            f"categories must be among {[c.value for c in WaCategory]}.", field="categories"
        ) from exc
    try:
        return estimate_campaign(
            volume, [c.upper() for c in countries], cats, card=get_rate_card(business_id), on=on
        )
    except UnknownCountryError as exc:
        raise InvalidParameter(f"countries: {exc}.", field="countries") from exc
    except BillingError as exc:
        raise InvalidParameter(str(exc)) from exc


def list_agents(business: Business) -> QuerySet[BillingAgent]:
    return BillingAgent.objects.filter(business=business).order_by("agent_id")


def get_agent(business: Business, agent_id: str) -> BillingAgent:
    """The business's agent; NotFound for an unknown one (or another business's)."""
    agent = BillingAgent.objects.filter(business=business, agent_id=agent_id).first()
    if agent is None:
        raise NotFound(f"Agent '{agent_id}' does not exist.")
    return agent
