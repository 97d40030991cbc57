"""Rate cards and pricing: which unit price applies to an event, as Decimal money.

A card is a set of rows (country or ``*``, item, currency, unit price, effective_from).
The item is the RCS event type (``basic_message``, ``a2p_rich_message``…), the WhatsApp
category (``marketing``…), or ``sms`` for the comparison rate. The row used is the latest
one effective on the event's delivery date (UTC) for the event's country, falling back to
``*``. Unit prices may carry 4 decimals; amounts are only rounded on invoice lines.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from importlib import resources

from billing.engine.errors import InvalidRateCardError, RateNotFoundError
from billing.engine.events import BillableEvent

DEFAULT_COUNTRY = "*"
MAX_UNIT_DECIMALS = 4
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units (the one rounding per invoice line)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class RateRow:
    country: str
    item: str
    currency: str
    unit_price: Decimal
    effective_from: date

    def __post_init__(self) -> None:
        where = f"rate {self.country}/{self.item} from {self.effective_from}"
        if self.country != DEFAULT_COUNTRY and not (
            len(self.country) == 2 and self.country.isalpha() and self.country.isupper()
        ):
            raise InvalidRateCardError(f"{where}: country must be an ISO region or '*'")
        if not self.item:
            raise InvalidRateCardError(f"{where}: item is empty")
        if not (len(self.currency) == 3 and self.currency.isalpha() and self.currency.isupper()):
            raise InvalidRateCardError(f"{where}: currency must be an ISO 4217 code")
        if not self.unit_price.is_finite() or self.unit_price < 0:
            raise InvalidRateCardError(f"{where}: unit price must be a non-negative amount")
        exponent = self.unit_price.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_UNIT_DECIMALS:
            raise InvalidRateCardError(f"{where}: unit price has more than 4 decimals")


@dataclass(frozen=True, slots=True)
class RateCard:
    """An immutable, indexed set of rate rows."""

    rows: tuple[RateRow, ...]
    default_currency: str = "USD"
    # (country, item) -> rows sorted by effective_from, and their dates for bisecting.
    _index: dict[tuple[str, str], tuple[list[date], list[RateRow]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, str], list[RateRow]] = {}
        for row in self.rows:
            grouped.setdefault((row.country, row.item), []).append(row)
        index: dict[tuple[str, str], tuple[list[date], list[RateRow]]] = {}
        for key, rows in grouped.items():
            rows.sort(key=lambda r: r.effective_from)
            dates = [r.effective_from for r in rows]
            if len(set(dates)) != len(dates):
                raise InvalidRateCardError(f"rate {key[0]}/{key[1]}: two rows share a date")
            index[key] = (dates, rows)
        object.__setattr__(self, "_index", index)

    def lookup(self, country: str, item: str, on: date) -> RateRow:
        """The row for ``item`` in ``country`` (else ``*``) effective on ``on``."""
        for where in (country, DEFAULT_COUNTRY):
            found = self._index.get((where, item))
            if found is not None:
                dates, rows = found
                i = bisect_right(dates, on)
                if i:
                    return rows[i - 1]
        raise RateNotFoundError(f"no rate for {item!r} in {country!r} on {on.isoformat()}")


@dataclass(frozen=True, slots=True)
class PricedEvent:
    """An event with its unit price; ``amount`` is unrounded (rounding is per line)."""

    event: BillableEvent
    currency: str
    unit_price: Decimal
    quantity: int

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


_ZERO = Decimal("0")


def price(event: BillableEvent, card: RateCard) -> PricedEvent:
    """Price one event at the rate effective on its delivery date; free events cost 0."""
    on = event.start.astimezone(UTC).date()
    if not event.chargeable:
        try:
            currency = card.lookup(event.country, event.rate_item, on).currency
        except RateNotFoundError:
            currency = card.default_currency
        return PricedEvent(event, currency, _ZERO, event.quantity)
    row = card.lookup(event.country, event.rate_item, on)
    return PricedEvent(event, row.currency, row.unit_price, event.quantity)


def parse_rate_csv(text: str) -> RateCard:
    """Read a rate card from CSV text; lines starting with ``#`` are comments."""
    body = io.StringIO("".join(ln for ln in text.splitlines(True) if not ln.startswith("#")))
    rows: list[RateRow] = []
    for n, rec in enumerate(csv.DictReader(body), start=1):
        try:
            rows.append(
                RateRow(
                    country=rec["country"].strip(),
                    item=rec["item"].strip(),
                    currency=rec["currency"].strip(),
                    unit_price=Decimal(rec["unit_price"].strip()),
                    effective_from=date.fromisoformat(rec["effective_from"].strip()),
                )
            )
        except (KeyError, AttributeError, InvalidOperation, ValueError) as exc:
            if isinstance(exc, InvalidRateCardError):
                raise
            raise InvalidRateCardError(f"rate card row {n}: {exc}") from None
    return RateCard(tuple(rows))


@cache
def load_default_rate_card() -> RateCard:
    """The packaged default card (``default_rates.csv``; illustrative figures)."""
    text = resources.files("billing.engine").joinpath("default_rates.csv").read_text("utf-8")
    return parse_rate_csv(text)
