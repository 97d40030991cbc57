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
}


def get(name: str) -> Any:
    return settings.PARLEY.get(name, DEFAULTS[name])


def retention() -> dt.timedelta:
    return dt.timedelta(days=int(get("RELAY_RETENTION_DAYS")))
