"""Parley's billing rating engine: pure Python, no Django.

Message facts in, billable events out, for RCS for Business (standard and US models) and
WhatsApp (per-message and conversation-based pricing); plus rate cards, pricing, invoices
and campaign estimates. Entry points: :func:`rate` (batch, any order) and
:func:`rate_stream` (facts in :func:`sort_key` order, events out as they complete).
"""

from billing.engine.categories import (
    Agent,
    AgentRegistry,
    BillingCategory,
    normalise_category,
)
from billing.engine.countries import KNOWN_COUNTRIES, check_country, country_of, is_known_country
from billing.engine.errors import (
    BillingError,
    CategoryImmutableError,
    DuplicateFactError,
    EstimateError,
    InvalidFactError,
    InvalidRateCardError,
    RateNotFoundError,
    UnknownCategoryError,
    UnknownCountryError,
    UnsortedFactsError,
)
from billing.engine.estimate import CampaignEstimate, EstimateLine, estimate_campaign
from billing.engine.events import BillableEvent, BillingModel, EventStatus, EventType
from billing.engine.facts import (
    Channel,
    Content,
    Direction,
    MessageFact,
    Suggestions,
    WaCategory,
    utf8_len,
)
from billing.engine.invoice import (
    ROUNDING_RULE,
    Invoice,
    InvoiceLine,
    build_invoice,
    exact_amount,
    invoice_of,
)
from billing.engine.periods import (
    PeriodStatus,
    is_period,
    period_bounds,
    period_final_from,
    period_of,
    period_status,
)
from billing.engine.rates import (
    PricedEvent,
    RateCard,
    RateRow,
    load_default_rate_card,
    parse_rate_csv,
    price,
    round_money,
)
from billing.engine.rating import (
    RatingResult,
    RatingStats,
    gc_paused,
    rate,
    rate_stream,
    sort_facts,
    sort_key,
)
from billing.engine.us import rich_message_classification, segment_count

__all__ = [
    "KNOWN_COUNTRIES",
    "ROUNDING_RULE",
    "Agent",
    "AgentRegistry",
    "BillableEvent",
    "BillingCategory",
    "BillingError",
    "BillingModel",
    "CampaignEstimate",
    "CategoryImmutableError",
    "Channel",
    "Content",
    "Direction",
    "DuplicateFactError",
    "EstimateError",
    "EstimateLine",
    "EventStatus",
    "EventType",
    "InvalidFactError",
    "InvalidRateCardError",
    "Invoice",
    "InvoiceLine",
    "MessageFact",
    "PeriodStatus",
    "PricedEvent",
    "RateCard",
    "RateNotFoundError",
    "RateRow",
    "RatingResult",
    "RatingStats",
    "Suggestions",
    "UnknownCategoryError",
    "UnknownCountryError",
    "UnsortedFactsError",
    "WaCategory",
    "build_invoice",
    "check_country",
    "country_of",
    "estimate_campaign",
    "exact_amount",
    "gc_paused",
    "invoice_of",
    "is_known_country",
    "is_period",
    "load_default_rate_card",
    "normalise_category",
    "parse_rate_csv",
    "period_bounds",
    "period_final_from",
    "period_of",
    "period_status",
    "price",
    "rate",
    "rate_stream",
    "rich_message_classification",
    "round_money",
    "segment_count",
    "sort_facts",
    "sort_key",
    "utf8_len",
]
