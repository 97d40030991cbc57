"""Invoices: priced events grouped into lines, rounded once per line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from billing.engine.events import BillableEvent
from billing.engine.rates import PricedEvent, round_money


def line_item(event: BillableEvent) -> str:
    """The line label: the event type, plus the category for WhatsApp events."""
    if event.whatsapp_category is not None:
        return f"{event.event_type.value}:{event.whatsapp_category.value}"
    return event.event_type.value


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """Events of one (country, item) at one unit price.

    Free events get lines of their own (unit price 0), and so do events priced before and
    after a rate change, so every line has exactly one unit price.
    """

    country: str
    item: str
    currency: str
    unit_price: Decimal
    events: int
    quantity: int  # units charged: events, or segments for US rich messages
    total: Decimal  # unit_price x quantity, rounded half up to minor units


@dataclass(frozen=True, slots=True)
class Invoice:
    lines: tuple[InvoiceLine, ...]
    totals: Mapping[str, Decimal]  # currency -> sum of line totals


def build_invoice(priced: Iterable[PricedEvent]) -> Invoice:
    groups: dict[tuple[str, str, str, Decimal], list[int]] = {}
    for p in priced:
        key = (p.event.country, line_item(p.event), p.currency, p.unit_price)
        counts = groups.get(key)
        if counts is None:
            groups[key] = [1, p.quantity]
        else:
            counts[0] += 1
            counts[1] += p.quantity
    lines = []
    totals: dict[str, Decimal] = {}
    for (country, item, currency, unit), (events, quantity) in sorted(groups.items()):
        total = round_money(unit * quantity, currency)
        lines.append(InvoiceLine(country, item, currency, unit, events, quantity, total))
        totals[currency] = totals.get(currency, Decimal(0)) + total
    return Invoice(tuple(lines), MappingProxyType(totals))
