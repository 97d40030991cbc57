"""Invoices: priced events grouped into lines; money rounded once, on each currency's total.

The rounding rule: rates are fractions of a cent (up to 4 decimals), so a line's amount is
kept exact — unit price x quantity, to 4 decimals, never rounded — and each currency's
total due is the sum of its exact line amounts, rounded half up to the currency's minor
unit (cents for USD) once. Three lines of $0.0035 come to $0.0105, due as $0.01.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from billing.engine.events import BillableEvent
from billing.engine.rates import MAX_UNIT_DECIMALS, PricedEvent, round_money

ROUNDING_RULE = (
    "Line totals are exact: unit price x quantity, to 4 decimals, never rounded. Each "
    "currency's total is the sum of its line totals, rounded half up to the currency's "
    "minor unit (cents for USD) once."
)
_LINE_EXPONENT = Decimal(1).scaleb(-MAX_UNIT_DECIMALS)


def exact_amount(amount: Decimal) -> Decimal:
    """An amount at the rate card's precision (4 decimals). Unit prices have at most 4
    decimals and quantities are whole, so this only pads: it never rounds."""
    return amount.quantize(_LINE_EXPONENT)


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
    total: Decimal  # unit_price x quantity, exact (4 decimals), never rounded


@dataclass(frozen=True, slots=True)
class Invoice:
    lines: tuple[InvoiceLine, ...]
    totals: Mapping[str, Decimal]  # currency -> amount due: exact_totals rounded once
    exact_totals: Mapping[str, Decimal]  # currency -> exact sum of the line totals


def invoice_of(lines: Iterable[InvoiceLine]) -> Invoice:
    """The invoice of some lines: exact sums per currency, and each rounded once."""
    ordered = tuple(lines)
    exact: dict[str, Decimal] = {}
    for ln in ordered:
        exact[ln.currency] = exact.get(ln.currency, Decimal(0)) + ln.total
    exact = {currency: exact_amount(amount) for currency, amount in exact.items()}
    due = {currency: round_money(amount, currency) for currency, amount in exact.items()}
    return Invoice(ordered, MappingProxyType(due), MappingProxyType(exact))


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
    return invoice_of(
        InvoiceLine(country, item, currency, unit, events, quantity, exact_amount(unit * quantity))
        for (country, item, currency, unit), (events, quantity) in sorted(groups.items())
    )
