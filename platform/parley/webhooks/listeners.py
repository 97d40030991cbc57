"""The `webhooks` stream consumer: each event a business's apps subscribe to becomes one
delivery per subscribed app (one change per POST), written in the consumer's transaction,
so a change is never lost and never queued twice; the delivery worker sends it. The delivery
worker also runs this consumer (woken by every commit), so a change is queued moments after
its event, without waiting behind the Celery workers' other consumers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q

from parley.core import clock
from parley.core.events import (
    MessageReceived,
    MessageStatusChanged,
    NumberQualityChanged,
    NumberStatusChanged,
    TemplateStatusChanged,
    WebhookTestRequested,
)
from parley.core.stream.consumers import Delivery, batch_consumer
from parley.webhooks.handoff import current as current_handoff


def webhook_id(stream_id: int, app_id: str) -> str:
    """Stable across retries and replays: the receiver's key to drop repeats."""
    return f"msg_{stream_id}_{app_id}"


def _healthy(app: Any, test: bool) -> bool:
    """An app its deliveries may go to at once: verified, enabled, circuit closed."""
    return (
        (app.subscribed or test)
        and app.is_verified
        and app.disabled_at is None
        and not app.consecutive_failures
        and app.circuit_open_until is None
    )


@batch_consumer(
    "webhooks",
    events=(MessageReceived, MessageStatusChanged, TemplateStatusChanged, NumberQualityChanged,
            NumberStatusChanged, WebhookTestRequested),
    dedicated="webhook_worker",
)  # fmt: skip
def enqueue_deliveries(items: list[Delivery]) -> None:
    from parley.webhooks.actions.deliveries import do_enqueue_deliveries, new_delivery_row
    from parley.webhooks.changes import build_changes
    from parley.webhooks.models import WebhookApp

    changes = build_changes(items)
    if not changes:
        return
    businesses = {c.business_id for c in changes}
    tested = [c.app_id for c in changes if c.app_id]
    apps = defaultdict(list)
    for app in WebhookApp.objects.filter(
        Q(business_id__in=businesses, subscribed=True) | Q(app_id__in=tested)
    ):
        apps[app.business_id].append(app)
    now = clock.now()
    handoff = current_handoff()
    # A delivery dates from its event (the log's time ranges are the events' times).
    occurred = {item.stream_id: item.event.occurred_at for item in items}
    rows = []
    for change in changes:
        for app in apps.get(change.business_id, ()):
            if change.app_id:
                if app.app_id != change.app_id:
                    continue
            elif not app.subscribed or change.field not in app.fields:
                continue
            wid = webhook_id(change.stream_id, app.app_id)
            lease = None
            if handoff is not None and _healthy(app, bool(change.app_id)):
                lease = handoff.lease_until
                handoff.take(wid, app)
            rows.append(
                new_delivery_row(
                    app.pk, change.business_id, change.stream_id, wid, change.field,
                    change.event, change.message_id, change.body,
                    occurred.get(change.stream_id) or now, now, lease,
                )
            )  # fmt: skip
    do_enqueue_deliveries(rows)
