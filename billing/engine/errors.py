"""One error hierarchy for the rating engine.

Every error carries a stable ``code`` so the API layer can render it (Meta's error envelope)
and the console can show it as a form error, without parsing messages.
"""

from __future__ import annotations


class BillingError(Exception):
    """Base of every error the rating engine raises."""

    code = "billing_error"


class InvalidFactError(BillingError, ValueError):
    """A message fact is inconsistent (e.g. delivered before it was sent)."""

    code = "invalid_fact"


class UnknownCountryError(BillingError, ValueError):
    """A country code that is not ISO 3166-1 alpha-2 (``ZZ`` included), or a customer
    number that is not E.164 or has no known country."""

    code = "unknown_country"


class DuplicateFactError(InvalidFactError):
    """Two different facts were given for one message id (an exact repeat is counted once)."""

    code = "duplicate_fact"


class UnknownCategoryError(BillingError, ValueError):
    """An agent billing category that is neither current nor a known legacy value."""

    code = "unknown_billing_category"


class CategoryImmutableError(BillingError):
    """An attempt to change an agent's billing category after creation."""

    code = "billing_category_immutable"


class UnsortedFactsError(BillingError, ValueError):
    """The streaming API was given facts out of ``sort_key`` order."""

    code = "unsorted_facts"


class RateNotFoundError(BillingError, LookupError):
    """No rate-card row covers an event's country, item and date."""

    code = "rate_not_found"


class InvalidRateCardError(BillingError, ValueError):
    """A rate-card row or file is malformed."""

    code = "invalid_rate_card"


class EstimateError(BillingError, ValueError):
    """A campaign estimate was asked for with impossible inputs."""

    code = "invalid_estimate"
