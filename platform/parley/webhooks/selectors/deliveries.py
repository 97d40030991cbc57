"""Reading the delivery log: a business's deliveries (filtered), one delivery and its
attempts, counts by state."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from parley.webhooks.models import WebhookAttempt, WebhookDelivery


def list_deliveries(
    business_id: int,
    *,
    app_id: str = "",
    message_id: str = "",
    state: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[WebhookDelivery]:
    """A business's deliveries, newest first; `since`/`until` bound when they were created
    (simulation clock, `until` exclusive)."""
    qs = WebhookDelivery.objects.filter(business_id=business_id).select_related("app")
    if app_id:
        qs = qs.filter(app__app_id=app_id)
    if message_id:
        qs = qs.filter(message_id=message_id)
    if state:
        qs = qs.filter(state=state)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-id")


def get_delivery(business_id: int, delivery_id: int) -> WebhookDelivery | None:
    return (
        WebhookDelivery.objects.filter(business_id=business_id, pk=delivery_id)
        .select_related("app")
        .first()
    )


def list_attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(delivery.attempt_log.order_by("number", "id"))


def delivery_counts(business_id: int, app_id: str = "") -> dict[str, int]:
    qs = WebhookDelivery.objects.filter(business_id=business_id)
    if app_id:
        qs = qs.filter(app__app_id=app_id)
    counts = {state: 0 for state, _ in WebhookDelivery.STATES}
    for row in qs.values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts
