"""Signing a webhook POST: pure, no Django.

Two signatures over the exact body bytes, so a receiver can check either:

* Meta's `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, body)>`, with
  the newest app secret (what pywa and every Cloud API receiver check);
* Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` (unix
  seconds) and `webhook-signature`, a space-separated list of
  `v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>`, one per secret given, newest
  first, so a receiver still holding the previous secret during a rotation's overlap
  verifies too. The key: a secret written `whsec_<base64>` (the spec's form) is the
  base64-decoded bytes after the prefix; any other secret (a Meta-style app secret) is its
  UTF-8 bytes, the same key X-Hub-Signature-256 uses, so one app secret serves both.

The `webhook-id` stays the same across retries and replays of one delivery: a receiver
drops a repeat by it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "application/json"
USER_AGENT = "facebookexternalua"  # what Meta's webhook requests say they are
HUB_SIGNATURE = "X-Hub-Signature-256"
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
# How far a Standard Webhooks timestamp may be from the receiver's clock (the spec's 5 min).
TOLERANCE_SECONDS = 5 * 60


def hub_signature(secret: str, body: bytes) -> str:
    """Meta's X-Hub-Signature-256 value: "sha256=" and the lowercase hex HMAC-SHA256 of the
    body under the app secret's UTF-8 bytes."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_hub_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether an X-Hub-Signature-256 header signs these bytes with this secret."""
    if not header:
        return False
    return hmac.compare_digest(hub_signature(secret, body), header.strip())


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks key of a secret: `whsec_` + base64 is decoded; anything else
    is used as its UTF-8 bytes. ValueError for a `whsec_` secret that is not base64."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a whsec_ secret must be base64 after its prefix") from exc
    return secret.encode("utf-8")


def standard_signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `{id}.{timestamp}.{body}`."""
    signed = f"{webhook_id}.{int(timestamp)}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def standard_signatures(
    secrets: Iterable[str], webhook_id: str, timestamp: int, body: bytes
) -> str:
    """The webhook-signature header: one signature per secret, in the order given."""
    return " ".join(standard_signature(s, webhook_id, timestamp, body) for s in secrets)


def headers_for(body: bytes, webhook_id: str, timestamp: int, secrets: list[str]) -> dict[str, str]:
    """Every header of a webhook POST. `secrets` newest first: the first signs
    X-Hub-Signature-256, each signs one Standard Webhooks signature."""
    if not secrets:
        raise ValueError("a webhook needs at least one secret to sign it")
    return {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        HUB_SIGNATURE: hub_signature(secrets[0], body),
        WEBHOOK_ID: webhook_id,
        WEBHOOK_TIMESTAMP: str(int(timestamp)),
        WEBHOOK_SIGNATURE: standard_signatures(secrets, webhook_id, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_headers(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: int,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """A Standard Webhooks receiver's check: the timestamp is within `tolerance` of `now`
    (unix seconds, the receiver's clock) and one of the listed v1 signatures is this
    secret's over `{id}.{timestamp}.{body}`. Header names match in any case."""
    webhook_id = _header(headers, WEBHOOK_ID)
    raw_ts = _header(headers, WEBHOOK_TIMESTAMP)
    listed = _header(headers, WEBHOOK_SIGNATURE)
    if not webhook_id or not raw_ts or not listed:
        return False
    try:
        timestamp = int(raw_ts)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = standard_signature(secret, webhook_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in listed.split(" ")
        if candidate.startswith("v1,")
    )


def verify_hub_headers(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """A Meta receiver's check of the X-Hub-Signature-256 header (any case)."""
    return verify_hub_signature(secret, body, _header(headers, HUB_SIGNATURE))
