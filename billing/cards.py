"""Which rate card prices a business: its own rows, else the packaged default card."""

from __future__ import annotations

from billing.engine import RateCard, RateRow, load_default_rate_card
from billing.models import RateCardRow


def get_rate_card(business_id: int) -> RateCard:
    rows = list(
        RateCardRow.objects.filter(business_id=business_id).values_list(
            "country", "item", "currency", "unit_price", "effective_from"
        )
    )
    if not rows:
        return load_default_rate_card()
    return RateCard(tuple(RateRow(c, i, cur, price, eff) for c, i, cur, price, eff in rows))


def rate_card_csv(card: RateCard) -> str:
    lines = ["country,item,currency,unit_price,effective_from"]
    for row in sorted(card.rows, key=lambda r: (r.country, r.item, r.effective_from)):
        lines.append(
            f"{row.country},{row.item},{row.currency},{row.unit_price},{row.effective_from}"
        )
    return "\n".join(lines) + "\n"
