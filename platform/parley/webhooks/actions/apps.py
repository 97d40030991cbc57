"""Writing a business's webhook apps: create, edit, delete, rotate the app secret, run the
verification handshake, subscribe to the business account (`subscribed_apps`) and
unsubscribe. Each write runs in one transaction and is audited; secrets and verify tokens are
stored encrypted and never audited or logged.

The handshake is Meta's: GET the callback with `hub.mode=subscribe`, a random
`hub.challenge` and the app's `hub.verify_token`; the receiver must answer 200 with the
challenge as its body. Redirects are not followed, the wait is short, and it runs before the
transaction (no row is locked while a receiver thinks). Subscribing refuses when it fails,
writing nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from django.conf import settings
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import Business, StaffUser
from parley.core import clock
from parley.core.crypto import decrypt_text, encrypt_text
from parley.core.errors import Conflict, InvalidParameter, ParleyError
from parley.core.ids import new_numeric_id
from parley.webhooks.destinations import check_url
from parley.webhooks.models import FIELDS, WebhookApp, WebhookSecret
from parley.webhooks.selectors.apps import verify_token as stored_verify_token

MAX_NAME = 100
MAX_VERIFY_TOKEN = 200
MAX_APPS = 50
MAX_CONCURRENCY = 100
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 30.0
MAX_OVERLAP = dt.timedelta(days=30)
DEFAULT_OVERLAP = dt.timedelta(hours=24)
USER_AGENT = "Parley-Webhooks/1.0 (facebookplatform-compatible)"
_MAX_BODY = 4096
_EXCERPT = 120


class CallbackVerificationFailed(ParleyError):
    """Meta's answer when a subscription's callback does not pass the handshake."""

    http_status = 400
    code = 2200


@dataclasses.dataclass(frozen=True)
class HandshakeResult:
    """One verification handshake: the URL called (without its hub.* parameters), what came
    back and, when it failed, why (Meta's wording)."""

    ok: bool
    url: str
    status: int | None = None
    error: str = ""
    latency_ms: float | None = None


# -- validation ------------------------------------------------------------------------------


def _no_controls(value: str) -> bool:
    return not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("Give the app a name of 1 to 100 characters.", field="name")
    name = name.strip()
    if len(name) > MAX_NAME or not _no_controls(name):
        raise InvalidParameter(
            f"The app's name must be 1 to {MAX_NAME} characters, without control characters.",
            field="name",
        )
    return name


def _verify_token(token: Any, *, field: str = "verify_token") -> str:
    if not isinstance(token, str) or not token:
        raise InvalidParameter(
            "Give a verify token: the receiver checks it in the handshake.", field=field
        )
    if len(token) > MAX_VERIFY_TOKEN or not _no_controls(token):
        raise InvalidParameter(
            f"The verify token must be 1 to {MAX_VERIFY_TOKEN} characters, without control "
            "characters.",
            field=field,
        )
    return token


def _fields(fields: Any) -> list[str]:
    if isinstance(fields, str) or not isinstance(fields, Iterable):
        raise InvalidParameter("fields must be a list of webhook field names.", field="fields")
    wanted = list(fields)
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise InvalidParameter(
            f"Unknown webhook field {str(unknown[0])[:60]!r}: use {', '.join(FIELDS)}.",
            field="fields",
        )
    if not wanted:
        raise InvalidParameter("Choose at least one webhook field.", field="fields")
    return [f for f in FIELDS if f in wanted]


def _concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidParameter(
            f"max_concurrency must be a whole number from 1 to {MAX_CONCURRENCY}.",
            field="max_concurrency",
        )
    return value


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter("timeout_seconds must be a number.", field="timeout_seconds")
    if not MIN_TIMEOUT <= float(value) <= MAX_TIMEOUT:
        raise InvalidParameter(
            f"timeout_seconds must be from {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g}.",
            field="timeout_seconds",
        )
    return float(value)


# -- audit -----------------------------------------------------------------------------------


def _audit(
    app: WebhookApp,
    action: str,
    *,
    actor: StaffUser | None,
    actor_label: str,
    ip_address: str | None,
    **details: Any,
) -> None:
    do_record_audit(
        action,
        business_id=app.business_id,
        actor=actor,
        actor_label=actor_label,
        target=f"webhook app {app.name} ({app.app_id})",
        details={"app_id": app.app_id, **details},
        ip_address=ip_address,
    )


def _locked(app: WebhookApp) -> WebhookApp:
    """The app's row, locked for the rest of the transaction (the caller's copy may be
    stale)."""
    return WebhookApp.objects.select_for_update().get(pk=app.pk)


def _new_secret(app: WebhookApp, now: dt.datetime) -> str:
    secret = secrets.token_hex(16)  # 32 hex digits, like a Meta app secret
    WebhookSecret.objects.create(
        app=app, secret_encrypted=encrypt_text(secret), hint=secret[-4:], created_at=now
    )
    return secret


# -- create, edit, delete --------------------------------------------------------------------


def do_create_app(
    business: Business,
    name: str,
    callback_url: str,
    verify_token: str,
    fields: Iterable[str],
    *,
    max_concurrency: int = 20,
    timeout_seconds: float = 10.0,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> tuple[WebhookApp, str]:
    """A new app for the business, not subscribed yet; returns it and its app secret in
    plaintext (the only time it exists outside the database's encrypted column)."""
    clean_name = _name(name)
    url = check_url(callback_url) if isinstance(callback_url, str) else check_url("")
    token = _verify_token(verify_token)
    chosen = _fields(fields)
    concurrency = _concurrency(max_concurrency)
    timeout = _timeout(timeout_seconds)
    now = clock.now()
    with transaction.atomic():
        # Serialise creations per business, so the cap holds under concurrent requests.
        Business.objects.select_for_update().filter(pk=business.pk).first()
        if WebhookApp.objects.filter(business_id=business.pk).count() >= MAX_APPS:
            raise Conflict(f"A business has at most {MAX_APPS} webhook apps: delete one first.")
        app_id = str(new_numeric_id())
        while WebhookApp.objects.filter(app_id=app_id).exists():  # pragma: no cover
            app_id = str(new_numeric_id())
        app = WebhookApp.objects.create(
            business=business,
            app_id=app_id,
            name=clean_name,
            callback_url=url,
            verify_token_encrypted=encrypt_text(token),
            fields=chosen,
            max_concurrency=concurrency,
            timeout_seconds=timeout,
            created_at=now,
        )
        secret = _new_secret(app, now)
        _audit(
            app,
            "webhooks.app_created",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            callback_url=url,
            fields=chosen,
        )
    return app, secret


def do_update_app(
    app: WebhookApp,
    *,
    name: str | None = None,
    callback_url: str | None = None,
    verify_token: str | None = None,
    fields: Iterable[str] | None = None,
    max_concurrency: int | None = None,
    timeout_seconds: float | None = None,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> WebhookApp:
    """Change the app's settings (None leaves one as it is). A new callback URL is not
    verified until the handshake passes against it (`do_verify_callback`): until then an
    app without an override receives nothing."""
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _name(name)
    if callback_url is not None:
        changes["callback_url"] = check_url(callback_url)
    if verify_token is not None:
        changes["verify_token_encrypted"] = encrypt_text(_verify_token(verify_token))
    if fields is not None:
        changes["fields"] = _fields(fields)
    if max_concurrency is not None:
        changes["max_concurrency"] = _concurrency(max_concurrency)
    if timeout_seconds is not None:
        changes["timeout_seconds"] = _timeout(timeout_seconds)
    with transaction.atomic():
        row = _locked(app)
        changed = [
            key
            for key, value in changes.items()
            if key == "verify_token_encrypted" or getattr(row, key) != value
        ]
        if not changed:
            return row
        for key in changed:
            setattr(row, key, changes[key])
        row.save(update_fields=changed)
        details: dict[str, Any] = {
            "changed": [k.removesuffix("_encrypted") for k in changed],
        }
        if "callback_url" in changed:
            details["callback_url"] = row.callback_url
        if "fields" in changed:
            details["fields"] = row.fields
        _audit(
            row,
            "webhooks.app_updated",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            **details,
        )
    return row


def do_delete_app(
    app: WebhookApp,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> None:
    """Delete the app with its secrets and its delivery log: nothing is sent to it again."""
    with transaction.atomic():
        row = WebhookApp.objects.select_for_update().filter(pk=app.pk).first()
        if row is None:
            return
        _audit(
            row,
            "webhooks.app_deleted",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            callback_url=row.callback_url,
        )
        row.delete()


# -- the app secret --------------------------------------------------------------------------


def do_rotate_secret(
    app: WebhookApp,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> str:
    """A new app secret, which signs from now on; the previous one keeps signing alongside
    it for `overlap` of simulated time (so receivers can switch without losing a delivery),
    and secrets retired by earlier rotations are deleted. Returns the new secret in
    plaintext: the only time it is shown."""
    if not dt.timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidParameter(
            f"The overlap must be from 0 to {MAX_OVERLAP.days} days.", field="overlap"
        )
    now = clock.now()
    with transaction.atomic():
        row = _locked(app)
        WebhookSecret.objects.filter(app=row, retires_at__isnull=False).delete()
        retires_at = now + overlap
        WebhookSecret.objects.filter(app=row, retires_at__isnull=True).update(retires_at=retires_at)
        secret = _new_secret(row, now)
        _audit(
            row,
            "webhooks.app_secret_rotated",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            hint=secret[-4:],
            previous_retires_at=retires_at.isoformat(),
        )
    return secret


# -- the verification handshake --------------------------------------------------------------


def _handshake_timeout() -> float:
    return float(settings.PARLEY.get("WEBHOOK_VERIFY_TIMEOUT_SECONDS", 5.0))


def _wait(app: WebhookApp) -> float:
    """The handshake's wait: short, and never longer than the app's delivery timeout."""
    return min(app.timeout_seconds, _handshake_timeout())


def _with_hub(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _connection_error(exc: Exception) -> str:
    errors = urllib3.exceptions
    if isinstance(exc, errors.NameResolutionError):
        return "Could not resolve the callback's host name."
    if isinstance(exc, errors.NewConnectionError):
        return "Could not connect to the callback's server."
    if isinstance(exc, errors.ConnectTimeoutError):
        return "Timed out connecting to the callback's server."
    if isinstance(exc, errors.ReadTimeoutError | TimeoutError):
        return "Timed out waiting for the callback's answer."
    if isinstance(exc, errors.SSLError):
        return "The TLS handshake with the callback's server failed."
    if isinstance(exc, errors.ProtocolError):
        return "The callback's server closed the connection without a valid HTTP answer."
    return f"The callback could not be called ({type(exc).__name__})."


def handshake(url: str, token: str, *, timeout: float | None = None) -> HandshakeResult:
    """Run Meta's verification handshake against `url` (no database access)."""
    wait = _handshake_timeout() if timeout is None else timeout
    challenge = str(10**9 + secrets.randbelow(9 * 10**9))
    target = _with_hub(
        url, {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": token}
    )
    pool = urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(total=wait, connect=min(wait, 5.0))
    )
    started = time.monotonic()
    try:
        response = pool.request(
            "GET",
            target,
            headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
            redirect=False,
            preload_content=False,
        )
        try:
            body = response.read(_MAX_BODY)
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ValueError, UnicodeError) as exc:
        latency = (time.monotonic() - started) * 1000
        return HandshakeResult(False, url, None, _connection_error(exc), latency)
    finally:
        pool.clear()
    latency = (time.monotonic() - started) * 1000
    status = response.status
    prefix = f"HTTP Status Code = {status}; HTTP Message = {_phrase(status)}"
    if 300 <= status < 400:
        return HandshakeResult(
            False, url, status, f"{prefix} (redirects are not followed)", latency
        )
    if status != 200:
        return HandshakeResult(False, url, status, prefix, latency)
    text = body.decode("utf-8", "replace")
    if text.strip() != challenge:
        shown = text.strip()[:_EXCERPT] or "an empty body"
        return HandshakeResult(
            False,
            url,
            status,
            f"The response does not match the challenge: expected {challenge}, got {shown!r}",
            latency,
        )
    return HandshakeResult(True, url, status, "", latency)


def _failure_message(result: HandshakeResult) -> str:
    return f"(#2200) Callback verification failed with the following errors: {result.error}"


def _mark_verified(row: WebhookApp, url: str, now: dt.datetime) -> list[str]:
    """A passed handshake: verified, and whatever stopped deliveries (a 410, the breaker)
    is cleared."""
    row.verified_url, row.verified_at, row.handshake_error = url, now, ""
    row.disabled_at, row.disabled_reason = None, ""
    row.consecutive_failures, row.circuit_open_until = 0, None
    return [
        "verified_url", "verified_at", "handshake_error", "disabled_at", "disabled_reason",
        "consecutive_failures", "circuit_open_until",
    ]  # fmt: skip


def do_verify_callback(
    app: WebhookApp,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> HandshakeResult:
    """Run the handshake against the app's target (the override when set, with its verify
    token) and record the result. Success marks the target verified and re-enables an app
    that a 410 disabled or whose circuit breaker is open; failure records why."""
    url = app.target_url
    result = handshake(url, stored_verify_token(app), timeout=_wait(app))
    now = clock.now()
    with transaction.atomic():
        row = _locked(app)
        if result.ok:
            updated = _mark_verified(row, url, now)
        else:
            row.handshake_error = result.error[:500]
            updated = ["handshake_error"]
        row.save(update_fields=updated)
        _audit(
            row,
            "webhooks.app_verified" if result.ok else "webhooks.app_verification_failed",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            url=url,
            **({} if result.ok else {"error": result.error[:500]}),
        )
    for name in updated:
        setattr(app, name, getattr(row, name))
    return result


# -- subscribed_apps -------------------------------------------------------------------------


def do_subscribe_app(
    app: WebhookApp,
    override_callback_url: str = "",
    override_verify_token: str = "",
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> WebhookApp:
    """Subscribe the app to its business's account, optionally with an override callback
    (and its own verify token) for this account; without one any earlier override is
    removed, as on the Graph API. The handshake runs against the resulting target first:
    when it fails this raises CallbackVerificationFailed (code 2200) and nothing changes."""
    override = ""
    token = ""
    if override_callback_url:
        override = check_url(override_callback_url, field="override_callback_uri")
        token = _verify_token(override_verify_token)
    elif override_verify_token:
        raise InvalidParameter(
            "verify_token goes with override_callback_uri: the app's own callback is checked "
            "with the app's verify token.",
            field="verify_token",
        )
    url = override or app.callback_url
    # With an override, its own token; else the app's own (not an earlier override's).
    token_sent = token or decrypt_text(app.verify_token_encrypted)
    result = handshake(url, token_sent, timeout=_wait(app))
    if not result.ok:
        raise CallbackVerificationFailed(_failure_message(result), field="override_callback_uri")
    now = clock.now()
    with transaction.atomic():
        row = _locked(app)
        row.subscribed = True
        row.override_callback_url = override
        row.override_verify_token_encrypted = encrypt_text(token) if token else ""
        updated = _mark_verified(row, url, now)
        row.save(
            update_fields=[
                "subscribed", "override_callback_url", "override_verify_token_encrypted",
                *updated,
            ]
        )  # fmt: skip
        _audit(
            row,
            "webhooks.app_subscribed",
            actor=actor,
            actor_label=actor_label,
            ip_address=ip_address,
            target_url=url,
            override=bool(override),
        )
    return row


def do_unsubscribe_app(
    app: WebhookApp,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
) -> WebhookApp:
    """Stop deliveries to the app for its business's account; its override goes too."""
    with transaction.atomic():
        row = _locked(app)
        if not row.subscribed and not row.override_callback_url:
            return row
        row.subscribed = False
        row.override_callback_url = ""
        row.override_verify_token_encrypted = ""
        row.save(
            update_fields=["subscribed", "override_callback_url", "override_verify_token_encrypted"]
        )
        _audit(
            row, "webhooks.app_unsubscribed", actor=actor, actor_label=actor_label,
            ip_address=ip_address,
        )  # fmt: skip
    return row
