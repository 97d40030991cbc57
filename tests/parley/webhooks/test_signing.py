"""Signing: Meta's X-Hub-Signature-256 and the Standard Webhooks headers, over the exact
bytes of the body (known vectors from both specifications' published examples)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from parley.webhooks import payloads, signing

# HMAC-SHA256("secret", "test"), the example of Elixir's whatsapp_sdk and of any HMAC tool.
HUB_VECTOR = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
# The Standard Webhooks / Svix documentation's worked example.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_hub_signature_known_vector() -> None:
    assert signing.hub_signature("secret", b"test") == HUB_VECTOR
    assert signing.verify_hub_signature("secret", b"test", HUB_VECTOR)
    assert not signing.verify_hub_signature("secret", b"test ", HUB_VECTOR)
    assert not signing.verify_hub_signature("Secret", b"test", HUB_VECTOR)
    assert not signing.verify_hub_signature("secret", b"test", None)


def test_hub_signature_is_lowercase_hex_over_utf8_secret() -> None:
    value = signing.hub_signature("clé", b"x")
    digest = value.removeprefix("sha256=")
    assert digest == digest.lower() and len(digest) == 64
    assert digest == hmac.new("clé".encode(), b"x", hashlib.sha256).hexdigest()


def test_standard_webhooks_known_vector() -> None:
    assert signing.standard_signature(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS),
               "webhook-signature": SW_SIGNATURE}  # fmt: skip
    assert signing.verify_headers(SW_SECRET, SW_BODY, headers, now=SW_TS + 60)


def test_a_plain_app_secret_is_used_as_its_utf8_bytes() -> None:
    assert signing.signing_key("abc123") == b"abc123"
    assert signing.signing_key(SW_SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    mac = hmac.new(b"abc123", b"id.1.{}", hashlib.sha256).digest()
    assert signing.standard_signature("abc123", "id", 1, b"{}") == (
        "v1," + base64.b64encode(mac).decode()
    )
    with pytest.raises(ValueError, match="base64"):
        signing.signing_key("whsec_not base64!")


def test_headers_sign_with_the_newest_secret_and_list_every_secret_newest_first() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    headers = signing.headers_for(body, "wh_1", 1700000000, ["new-secret", "old-secret"])
    assert headers == {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": signing.hub_signature("new-secret", body),
        "webhook-id": "wh_1",
        "webhook-timestamp": "1700000000",
        "webhook-signature": " ".join([
            signing.standard_signature("new-secret", "wh_1", 1700000000, body),
            signing.standard_signature("old-secret", "wh_1", 1700000000, body),
        ]),
    }  # fmt: skip
    # A receiver still holding either secret accepts the delivery during the overlap.
    for secret in ("new-secret", "old-secret"):
        assert signing.verify_headers(secret, body, headers, now=1700000010)
    assert not signing.verify_headers("other", body, headers, now=1700000010)
    assert signing.verify_hub_headers("new-secret", body, headers)
    assert not signing.verify_hub_headers("old-secret", body, headers)
    with pytest.raises(ValueError, match="at least one secret"):
        signing.headers_for(body, "wh_1", 1, [])


def test_standard_headers_are_checked_case_insensitively_and_in_time() -> None:
    body = b"{}"
    headers = {k.upper(): v for k, v in signing.headers_for(body, "w", 1000, ["s"]).items()}
    assert signing.verify_headers("s", body, headers, now=1000)
    assert signing.verify_headers("s", body, headers, now=1300)
    assert not signing.verify_headers("s", body, headers, now=1301)  # too late: a replay
    assert not signing.verify_headers("s", body, headers, now=699)
    assert not signing.verify_headers("s", body, {"webhook-id": "w"}, now=1000)
    bad_ts = {**headers, "WEBHOOK-TIMESTAMP": "soon"}
    assert not signing.verify_headers("s", body, bad_ts, now=1000)
    moved = {**headers, "WEBHOOK-ID": "w2"}  # the id is signed too
    assert not signing.verify_headers("s", body, moved, now=1000)


def test_the_signature_is_over_the_exact_escaped_bytes() -> None:
    document = {"text": {"body": "Grüße / 😀 <ok> 50% a@b"}}
    body = payloads.encode(document).encode("ascii")
    assert b"Gr\\u00fc\\u00dfe \\/ \\ud83d\\ude00" in body
    headers = signing.headers_for(body, "w", 5, ["app-secret"])
    assert signing.verify_hub_headers("app-secret", body, headers)
    assert signing.verify_headers("app-secret", body, headers, now=5)
    # The same document re-serialised (as a careless receiver would) no longer verifies.
    for other in (json.dumps(document).encode(),
                  json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(),
                  json.dumps(document, separators=(",", ":")).encode()):  # fmt: skip
        assert json.loads(other) == json.loads(body)
        assert not signing.verify_hub_headers("app-secret", other, headers)
        assert not signing.verify_headers("app-secret", other, headers, now=5)
