"""Identifiers in the real platform's shapes."""

from __future__ import annotations

import functools
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


def business_scoped_user_id(business_id: int, e164: str) -> str:
    """A customer as one business knows them (Meta's business-scoped user id, e.g.
    `US.13491208655302741918`): the number's country and 20 digits of an HMAC of the
    business and the number under the installation's secret, so two businesses cannot tell
    they talk to the same person and nobody can recover the number from it."""
    import hashlib
    import hmac

    from django.conf import settings

    key = settings.SECRET_KEY.encode()
    digest = hmac.new(key, f"bsuid:{business_id}:{e164}".encode(), hashlib.sha256).digest()
    return f"{_region(e164)}.{int.from_bytes(digest[:10], 'big') % 10**20:020d}"


@functools.lru_cache(maxsize=8192)
def _region(e164: str) -> str:
    """The number's country code ("ZZ" for non-geographic numbers); on every send's path."""
    import phonenumbers

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or "ZZ"
    except phonenumbers.NumberParseException:
        region = "ZZ"
    return region if len(region) == 2 and region.isalpha() else "ZZ"
