"""Relay limits. Each can be overridden through `settings.PARLEY["RELAY_…"]`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Undelivered envelopes and every piece of metadata live this long.
    "RELAY_RETENTION_DAYS": 30,
    # A superseded signed pre-key is kept this long so in-flight pre-key messages still work.
    "RELAY_SIGNED_PREKEY_GRACE_DAYS": 30,
    # Below this many one-time EC (or KEM) pre-keys the owner is told to replenish.
    "RELAY_PREKEY_LOW_WATERMARK": 10,
    "RELAY_MAX_PREKEYS_PER_UPLOAD": 100,
    "RELAY_MAX_PREKEYS_STORED": 200,
    "RELAY_MAX_CIPHERTEXT_BYTES": 256 * 1024,
    "RELAY_MAX_DEVICES": 16,
    "RELAY_FETCH_PAGE": 100,
    # Rate limits (per client address for registration, per device for key fetches).
    "RELAY_REGISTER_RATE_PER_HOUR": 60,
    "RELAY_REGISTER_RATE_PER_NUMBER_PER_HOUR": 10,
    "RELAY_KEY_FETCH_RATE_PER_MINUTE": 120,
    # Bundle claims by one account of one target account's keys, so a requester cannot
    # drain another number's one-time pre-keys (Signal limits per requester and target).
    "RELAY_KEY_FETCH_RATE_PER_TARGET_PER_HOUR": 10,
    # Verification of a handset number by a code sent by SMS before it registers.
    "RELAY_VERIFICATION_SESSION_TTL_SECONDS": 3600,
    "RELAY_VERIFICATION_CODE_TTL_SECONDS": 600,
    # Wrong codes against one code, after which a new code must be requested.
    "RELAY_VERIFICATION_MAX_ATTEMPTS": 5,
    "RELAY_VERIFICATION_CODES_PER_NUMBER_PER_HOUR": 6,
    # Code checks per number per hour, across sessions and codes.
    "RELAY_VERIFICATION_CHECKS_PER_NUMBER_PER_HOUR": 15,
}


def get(name: str) -> Any:
    return settings.PARLEY.get(name, DEFAULTS[name])


def retention() -> dt.timedelta:
    return dt.timedelta(days=int(get("RELAY_RETENTION_DAYS")))
