"""Messaging limits and their upgrades, as Meta describes them: the pure rules (no Django).

A business portfolio may reach a number of unique customers with business-initiated messages
(templates sent while the customer's service window is closed) in a moving 24 hours: 250,
2,000, 10,000, 100,000 or unlimited. Meta's automatic scaling moves a portfolio one tier up
when its quality is not low and, in the last 7 days, it reached at least half its current
limit in unique customers ("Messaging limits", developers.facebook.com/documentation/
business-messaging/whatsapp/messaging-limits: "Automatic scaling"). Parley applies the same
rule from 250 to 2,000 too, in place of Meta's scaling paths (business verification or 2,000
unique customers in 30 days), which it does not simulate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ORDER = ("TIER_250", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED")
UPGRADE_WINDOW_DAYS = 7
LOW_QUALITY = "RED"


def limit_of(tier: str, sizes: Mapping[str, int | None]) -> int | None:
    """The unique customers a tier allows in 24 h (None: unlimited)."""
    if tier not in ORDER:
        raise ValueError(f"unknown messaging limit tier {tier!r}")
    return sizes.get(tier)


def next_tier(tier: str) -> str | None:
    """The tier above (None at the top)."""
    i = ORDER.index(tier)
    return ORDER[i + 1] if i + 1 < len(ORDER) else None


def upgrade(
    tier: str, *, qualities: Sequence[str], reached_7d: int, sizes: Mapping[str, int | None]
) -> str | None:
    """The tier a portfolio moves up to, or None: its numbers' quality not low (no RED
    number) and at least half its current limit reached in unique customers in 7 days."""
    above = next_tier(tier)
    limit = limit_of(tier, sizes)
    if above is None or limit is None or LOW_QUALITY in qualities:
        return None
    return above if reached_7d * 2 >= limit else None


def may_reach(*, reached_24h: int, already_reached: bool, limit: int | None) -> bool:
    """Whether one more business-initiated message may go to a customer: one already reached
    in the 24 h costs nothing, a new one needs room under the limit."""
    return already_reached or limit is None or reached_24h < limit


# On the phone-number node, `messaging_limit_tier` is the field Meta's v23.0 description
# (WhatsAppBusinessAccountPhoneNumber) enumerates: TIER_50, TIER_250, TIER_1K, TIER_10K,
# TIER_100K, TIER_UNLIMITED. It predates the 2,000 tier, so TIER_2K shows there as TIER_1K
# (the step it replaced); `whatsapp_business_manager_messaging_limit`, the field Meta now
# asks for instead, carries the exact tier.
LEGACY_NAME = {"TIER_2K": "TIER_1K"}


def legacy_name(tier: str) -> str:
    return LEGACY_NAME.get(tier, tier)
