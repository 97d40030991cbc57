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


def new_wamid(customer_e164: str = "") -> str:
    """A message id in the Cloud API's shape: "wamid." and base64 of an opaque blob that
    carries the customer's number and 18 random hex digits, as Meta's ids do."""
    import base64

    digits = "".join(ch for ch in customer_e164 if ch.isdigit()).encode()[:20]
    blob = (
        b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x12\x18\x12"
        + secrets.token_hex(9).upper().encode() + b"\x00"
    )  # fmt: skip
    return "wamid." + base64.b64encode(blob).decode().rstrip("=")
