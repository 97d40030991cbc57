"""Reading a business's webhook apps, their secrets and verify tokens. No side effects.

Apps are tenant-scoped: another business's app id reads as nothing there."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet

from parley.core.crypto import decrypt_text
from parley.webhooks.models import WebhookApp, WebhookSecret

_APP_ID = re.compile(r"^[0-9]{1,20}$")


def list_apps(business_id: int) -> QuerySet[WebhookApp]:
    """The business's apps, oldest first."""
    return WebhookApp.objects.filter(business_id=business_id).order_by("created_at", "id")


def get_app(business_id: int, app_id: str) -> WebhookApp | None:
    """The business's app with this Graph id; None when there is none (or it is another
    business's)."""
    app_id = str(app_id)
    if not _APP_ID.match(app_id):
        return None
    return WebhookApp.objects.filter(business_id=business_id, app_id=app_id).first()


def oldest_app(business_id: int) -> WebhookApp | None:
    """The app `subscribed_apps` acts on when the caller names none."""
    return list_apps(business_id).first()


def list_subscribed_apps(business_id: int) -> QuerySet[WebhookApp]:
    return list_apps(business_id).filter(subscribed=True)


def live_secrets(app: WebhookApp, now: dt.datetime) -> QuerySet[WebhookSecret]:
    """The app's secret rows that still sign at `now`, newest first."""
    return (
        WebhookSecret.objects.filter(app=app)
        .filter(Q(retires_at__isnull=True) | Q(retires_at__gt=now))
        .order_by("-created_at", "-id")
    )


def signing_secrets(app: WebhookApp, now: dt.datetime) -> list[str]:
    """The app's secrets in plaintext, newest first (the newest signs X-Hub-Signature-256;
    during a rotation's overlap the previous one still signs too); retired ones left out."""
    return [decrypt_text(row.secret_encrypted) for row in live_secrets(app, now)]


def secret_rows(app: WebhookApp) -> list[WebhookSecret]:
    """Every stored secret row (hints and dates only are for display), newest first."""
    return list(WebhookSecret.objects.filter(app=app).order_by("-created_at", "-id"))


def verify_token(app: WebhookApp) -> str:
    """The verify token the handshake sends to the app's target: the subscription
    override's when an override callback is set, else the app's own."""
    if app.override_callback_url and app.override_verify_token_encrypted:
        return decrypt_text(app.override_verify_token_encrypted)
    return decrypt_text(app.verify_token_encrypted)
