"""Identifiers in the real platform's shapes."""

from __future__ import annotations

import secrets


def new_numeric_id() -> int:
    """A random 15-digit id, like the Graph API's ids for businesses and phone numbers.

    Random rather than sequential so ids reveal nothing about other tenants."""
    return 100_000_000_000_000 + secrets.randbelow(900_000_000_000_000)


def new_fbtrace_id() -> str:
    """An opaque trace id for error envelopes, like the Graph API's `fbtrace_id`."""
    return secrets.token_urlsafe(16)[:22]
