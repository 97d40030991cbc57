"""Rate cards and pricing: which unit price applies to an event, as Decimal money.

A card is a set of rows (country or ``*``, item, currency, unit price, effective_from).
The item is the RCS event type (``basic_message``, ``a2p_rich_message``…), the WhatsApp
category (``marketing``…), or ``sms`` for the comparison rate. The row used is the latest
one effective on the event's delivery date (UTC) for the event's country, falling back to
``*``. Unit prices carry up to 4 decimals (fractions of a cent). Amounts keep that precision
exactly; money is rounded only where it is presented as an amount due (see ``invoice``).

Malformed cards raise :class:`InvalidRateCardError` with a message for people: which row,
which column, what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources

from billing.engine.countries import KNOWN_COUNTRIES
from billing.engine.errors import InvalidRateCardError, RateNotFoundError
from billing.engine.events import BillableEvent, EventType
from billing.engine.facts import WaCategory

DEFAULT_COUNTRY = "*"
MAX_UNIT_DECIMALS = 4
MAX_UNIT_PRICE = Decimal("99999999.9999")  # what the database stores: 12 digits, 4 decimals
# ISO 4217 minor units where they are not 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}
RATE_COLUMNS = ("country", "item", "currency", "unit_price", "effective_from")
# Items a rate can price: RCS event types, WhatsApp categories (WhatsApp events are priced by
# category), and the SMS comparison rate.
RATE_ITEMS = frozenset(
    {t.value for t in EventType}
    - {EventType.WHATSAPP_MESSAGE.value, EventType.WHATSAPP_CONVERSATION.value}
    | {c.value for c in WaCategory}
    | {"sms"}
)
_PRICE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_EXAMPLE_HEADER = ",".join(RATE_COLUMNS)


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units (cents for USD): the one rounding, applied
    only to an amount presented as money due (an invoice's or an estimate's total)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def rate_row_problem(country: str, item: str, currency: str, unit_price: Decimal) -> str | None:
    """What is wrong with a rate row's values, in words; None if nothing is."""
    if not country:
        return "the country is empty (give an ISO country code, or * for every other country)"
    if country != DEFAULT_COUNTRY and country not in KNOWN_COUNTRIES:
        return (
            f"the country {country!r} is not an ISO 3166-1 alpha-2 country code "
            "(such as US or IN; * prices every other country)"
        )
    if not item:
        return "the item is empty"
    if item not in RATE_ITEMS:
        return f"the item {item!r} is not a billable item (one of {', '.join(sorted(RATE_ITEMS))})"
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()) or (
        not currency.isupper()
    ):
        return f"the currency {currency!r} is not an ISO 4217 code (three capital letters, as USD)"
    if not unit_price.is_finite():
        return "the unit price is not a number"
    if unit_price < 0:
        return f"the unit price {unit_price} is negative; a rate is zero or more"
    exponent = unit_price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_UNIT_DECIMALS:
        return f"the unit price {unit_price} has more than {MAX_UNIT_DECIMALS} decimals"
    if unit_price > MAX_UNIT_PRICE:
        return f"the unit price {unit_price} is too large (at most {MAX_UNIT_PRICE})"
    return None


@dataclass(frozen=True, slots=True)
class RateRow:
    country: str
    item: str
    currency: str
    unit_price: Decimal
    effective_from: date

    def __post_init__(self) -> None:
        problem = rate_row_problem(self.country, self.item, self.currency, self.unit_price)
        if problem is not None:
            where = f"rate {self.country}/{self.item} from {self.effective_from}"
            raise InvalidRateCardError(f"{where}: {problem}")


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
                raise InvalidRateCardError(
                    f"the rate card gives {key[0]} {key[1]} two rates from the same date"
                )
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
    """An event with its unit price; ``amount`` is exact (never rounded)."""

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


def parse_rate_csv(text: str | bytes) -> RateCard:
    """Read a rate card from CSV (text, or bytes in UTF-8); lines starting with ``#`` are
    comments. The first other line is the header naming the columns of :data:`RATE_COLUMNS`
    (in any order). Raises :class:`InvalidRateCardError` saying what is wrong, and where."""
    text = _as_text(text)
    lines = [ln for ln in text.splitlines(True) if ln.strip() and not ln.startswith("#")]
    if not lines:
        raise InvalidRateCardError(
            f"the rate card is empty: give a header line ({_EXAMPLE_HEADER}) and one rate a line"
        )
    reader = csv.reader(io.StringIO("".join(lines)), strict=True)
    rows: list[RateRow] = []
    try:
        header = [name.strip().lower() for name in next(reader)]
        index = _columns(header)
        for n, record in enumerate(reader, start=1):
            if len(record) != len(header):
                raise InvalidRateCardError(
                    f"rate card row {n}: it has {len(record)} values, but the header names "
                    f"{len(header)} columns ({','.join(header)})"
                )
            rows.append(_row(n, {name: record[i].strip() for name, i in index.items()}))
    except csv.Error as exc:
        raise InvalidRateCardError(
            f"rate card line {reader.line_num}: this is not valid CSV ({exc})"
        ) from None
    if not rows:
        raise InvalidRateCardError("the rate card has a header line but no rates")
    return RateCard(tuple(rows))


def _as_text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidRateCardError(
                f"the rate card is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
                f"{exc.start}); save it as CSV in UTF-8"
            ) from None
    if "\x00" in data:
        raise InvalidRateCardError(
            "the rate card contains NUL characters: it looks like a binary file, not CSV text"
        )
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRateCardError(
            f"the rate card contains a character that is not valid Unicode (position {exc.start})"
        ) from None
    return data.removeprefix("\ufeff")  # the byte-order mark some spreadsheets write


def _columns(header: list[str]) -> dict[str, int]:
    missing = [name for name in RATE_COLUMNS if name not in header]
    if len(missing) == len(RATE_COLUMNS):
        raise InvalidRateCardError(
            f"rate card header: the first line must name the columns {_EXAMPLE_HEADER}"
        )
    if missing:
        names = ", ".join(repr(name) for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        column = "column" if len(missing) == 1 else "columns"
        raise InvalidRateCardError(
            f"rate card header: the {column} {names} {verb} missing "
            f"(the columns are {_EXAMPLE_HEADER})"
        )
    for name in RATE_COLUMNS:
        if header.count(name) > 1:
            raise InvalidRateCardError(f"rate card header: the column {name!r} appears twice")
    return {name: header.index(name) for name in RATE_COLUMNS}


def _row(n: int, values: dict[str, str]) -> RateRow:
    where = f"rate card row {n}"
    for name in RATE_COLUMNS:
        if not values[name]:
            raise InvalidRateCardError(f"{where}: the value of {name!r} is missing")
    price_text = values["unit_price"]
    if not _PRICE.fullmatch(price_text):
        if price_text.startswith("-") and _PRICE.fullmatch(price_text[1:]):
            raise InvalidRateCardError(
                f"{where}: the unit price {price_text} is negative; a rate is zero or more"
            )
        raise InvalidRateCardError(
            f"{where}: the unit price {price_text!r} is not a decimal amount such as 0.0085"
        )
    date_text = values["effective_from"]
    try:
        if not _DATE.fullmatch(date_text):
            raise ValueError
        since = date.fromisoformat(date_text)
    except ValueError:
        raise InvalidRateCardError(
            f"{where}: effective_from {date_text!r} is not a date in the form YYYY-MM-DD"
        ) from None
    country, item, currency = values["country"], values["item"], values["currency"]
    unit_price = Decimal(price_text)
    problem = rate_row_problem(country, item, currency, unit_price)
    if problem is not None:
        raise InvalidRateCardError(f"{where}: {problem}")
    return RateRow(country, item, currency, unit_price, since)


@cache
def load_default_rate_card() -> RateCard:
    """The packaged default card (``default_rates.csv``; illustrative figures)."""
    text = resources.files("billing.engine").joinpath("default_rates.csv").read_text("utf-8")
    return parse_rate_csv(text)
