"""Billing reads: usage, events, invoices and estimates for one business."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum

from billing.cards import get_rate_card
from billing.engine import (
    BillingError,
    CampaignEstimate,
    EventStatus,
    Invoice,
    InvoiceLine,
    WaCategory,
    estimate_campaign,
    round_money,
)
from billing.models import BillableEventRecord
from parley.core.errors import InvalidParameter

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    if not PERIOD.match(period or ""):
        raise InvalidParameter("period must look like YYYY-MM.", field="period")
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
        "final": is_period_final(business_id, period),
    }


def is_period_final(business_id: int, period: str) -> bool:
    return not list_events(business_id, period=period, status=EventStatus.PROVISIONAL).exists()


def get_invoice(business_id: int, period: str) -> Invoice:
    """The month's invoice: lines by country and item at one unit price each, each line
    rounded once (the engine's rule), aggregated in the database."""
    grouped = (
        list_events(business_id, period=period)
        .values("country", "event_type", "whatsapp_category", "currency", "unit_price")
        .annotate(events=Count("id"), quantity=Sum("quantity"))
        .order_by("country", "event_type", "whatsapp_category", "currency", "unit_price")
    )
    lines: list[InvoiceLine] = []
    totals: dict[str, Decimal] = {}
    for g in grouped:
        item = g["event_type"] + (f":{g['whatsapp_category']}" if g["whatsapp_category"] else "")
        unit = Decimal(g["unit_price"])
        total = round_money(unit * g["quantity"], g["currency"])
        lines.append(
            InvoiceLine(g["country"], item, g["currency"], unit, g["events"], g["quantity"], total)
        )
        totals[g["currency"]] = totals.get(g["currency"], Decimal(0)) + total
    return Invoice(tuple(lines), totals)


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
    except BillingError as exc:
        raise InvalidParameter(str(exc)) from exc
