"""Campaign cost estimates: WhatsApp templates by country and category, against SMS.

The estimate assumes business-initiated messages outside any customer-service window
(the budget case), priced per message at the card's rates on a given date; ``service``
messages are free. As on an invoice, line costs are exact (4 decimals) and only the totals
are rounded, half up to the currency's minor unit, once. Countries must be ISO 3166-1
alpha-2 codes: an unknown one (``ZZ``) is refused, not priced at the default rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.engine.countries import check_country
from billing.engine.errors import EstimateError
from billing.engine.facts import WaCategory
from billing.engine.invoice import exact_amount
from billing.engine.rates import RateCard, round_money

SMS_ITEM = "sms"


@dataclass(frozen=True, slots=True)
class EstimateLine:
    country: str
    category: WaCategory
    messages: int
    currency: str
    unit_price: Decimal
    cost: Decimal
    sms_unit_price: Decimal
    sms_cost: Decimal


@dataclass(frozen=True, slots=True)
class CampaignEstimate:
    lines: tuple[EstimateLine, ...]
    currency: str
    total: Decimal  # sum of the line costs, rounded once to minor units
    sms_total: Decimal  # the same for the SMS costs

    @property
    def savings(self) -> Decimal:
        """What WhatsApp saves against sending the same volume as SMS."""
        return self.sms_total - self.total


def estimate_campaign(
    volume: int | Mapping[str, int],
    countries: Sequence[str],
    categories: Sequence[WaCategory],
    *,
    card: RateCard,
    on: date,
) -> CampaignEstimate:
    """Cost of ``volume`` messages per country (an int for all, or a per-country mapping)
    for each category, and of the same volume as SMS."""
    if not countries or not categories:
        raise EstimateError("an estimate needs at least one country and one category")
    lines: list[EstimateLine] = []
    currencies: set[str] = set()
    for country in countries:
        check_country(country)
        count = volume if isinstance(volume, int) else volume.get(country, 0)
        if count < 0:
            raise EstimateError(f"volume for {country} is negative")
        sms = card.lookup(country, SMS_ITEM, on)
        for category in categories:
            if category is WaCategory.SERVICE:
                currency, unit = sms.currency, Decimal(0)
            else:
                row = card.lookup(country, category.value, on)
                currency, unit = row.currency, row.unit_price
            if currency != sms.currency:
                raise EstimateError(f"{country}: WhatsApp and SMS rates in different currencies")
            currencies.add(currency)
            lines.append(
                EstimateLine(
                    country,
                    category,
                    count,
                    currency,
                    unit,
                    exact_amount(unit * count),
                    sms.unit_price,
                    exact_amount(sms.unit_price * count),
                )
            )
    if len(currencies) != 1:
        raise EstimateError(f"rates in several currencies: {sorted(currencies)}")
    currency = currencies.pop()
    return CampaignEstimate(
        tuple(lines),
        currency,
        round_money(sum((ln.cost for ln in lines), Decimal(0)), currency),
        round_money(sum((ln.sms_cost for ln in lines), Decimal(0)), currency),
    )
