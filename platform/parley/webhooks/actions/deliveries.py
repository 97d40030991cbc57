"""Writers of the delivery log: deliveries from the stream, the worker's outcomes, replays
and test events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.db.models import QuerySet

from parley.core import clock
from parley.core.bulk import upsert_rows
from parley.core.errors import InvalidParameter
from parley.core.events import WebhookTestRequested
from parley.core.publish import publish
from parley.webhooks import wake
from parley.webhooks.models import FIELDS, WebhookApp, WebhookAttempt, WebhookDelivery


def _audit(action: str, business_id: int, target: str, details: dict[str, object],
           actor_label: str, ip_address: str | None) -> None:  # fmt: skip
    from parley.accounts.actions.audit import do_record_audit

    do_record_audit(f"webhooks.{action}", business_id=business_id, actor_label=actor_label,
                    target=target, details=details, ip_address=ip_address)  # fmt: skip


def _replay(qs: QuerySet[WebhookDelivery]) -> int:
    """Make deliveries due now as a new round of attempts (same webhook-id)."""
    return qs.update(
        state=WebhookDelivery.PENDING,
        next_attempt_at=clock.now(),
        round_started_at=None,
        round_attempts=0,
        leased_until=None,
        last_error="",
    )


def do_replay_delivery(
    delivery: WebhookDelivery, *, actor_label: str, ip_address: str | None = None
) -> None:
    """Send one delivery again, whatever its state: a new round of attempts, due now, with
    the same body and webhook-id (receivers that already have it drop it). Audited."""
    with transaction.atomic():
        _replay(WebhookDelivery.objects.filter(pk=delivery.pk))
        _audit("replayed", delivery.business_id, f"webhook delivery {delivery.webhook_id}",
               {"count": 1, "app_id": delivery.app.app_id}, actor_label, ip_address)  # fmt: skip
        transaction.on_commit(wake.wake_worker)
    delivery.refresh_from_db()


def do_replay_deliveries(
    business_id: int,
    *,
    app_id: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    dead_only: bool = True,
    actor_label: str,
    ip_address: str | None = None,
) -> int:
    """Replay a business's dead letters (or, with dead_only=False, every settled delivery)
    of one app or all, created in [since, until) when given. Returns how many. Audited."""
    from parley.webhooks.selectors.deliveries import list_deliveries

    if since is not None and until is not None and since >= until:
        raise InvalidParameter("`since` must be before `until`.", field="since")
    qs = list_deliveries(business_id, app_id=app_id, since=since, until=until)
    if dead_only:
        qs = qs.filter(state=WebhookDelivery.DEAD)
    else:
        qs = qs.exclude(state=WebhookDelivery.PENDING)
    ids = list(qs.values_list("pk", flat=True))
    with transaction.atomic():
        count = _replay(WebhookDelivery.objects.filter(pk__in=ids))
        details: dict[str, object] = {"count": count, "dead_only": dead_only}
        if app_id:
            details["app_id"] = app_id
        if since is not None:
            details["since"] = since.isoformat()
        if until is not None:
            details["until"] = until.isoformat()
        _audit("replayed", business_id, "webhook deliveries", details, actor_label, ip_address)
        if count:
            transaction.on_commit(wake.wake_worker)
    return count


def do_request_test_event(
    app: WebhookApp, field: str, *, actor_label: str, ip_address: str | None = None
) -> int:
    """Publish a test event for one field of one app; the webhooks consumer turns it into a
    sample change delivered like any other. Returns its stream id."""
    if field not in FIELDS:
        raise InvalidParameter(
            f"Unknown webhook field {field!r}; one of: {', '.join(FIELDS)}.", field="field"
        )
    with transaction.atomic():
        stream_id = publish(
            WebhookTestRequested(
                business_id=app.business_id, occurred_at=clock.now(), app_id=app.app_id,
                field=field,
            )
        )  # fmt: skip
        _audit("test_requested", app.business_id, f"webhook app {app.app_id}",
               {"field": field}, actor_label, ip_address)  # fmt: skip
    return stream_id


# A new delivery's columns, in the order `do_enqueue_deliveries` takes them.
DELIVERY_COLUMNS = ("app_id", "business_id", "stream_id", "webhook_id", "field", "event",
                    "message_id", "body", "created_at", "next_attempt_at", "state", "attempts",
                    "round_attempts", "last_error", "leased_until")  # fmt: skip


def new_delivery_row(app_pk: int, business_id: int, stream_id: int, webhook_id: str, field: str,
                     event: str, message_id: str, body: str, created_at: dt.datetime,
                     due: dt.datetime,
                     leased_until: dt.datetime | None = None) -> tuple[object, ...]:  # fmt: skip
    return (app_pk, business_id, stream_id, webhook_id, field, event, message_id, body,
            created_at, due, WebhookDelivery.PENDING, 0, 0, "", leased_until)  # fmt: skip


def do_enqueue_deliveries(rows: Sequence[tuple[object, ...]]) -> int:
    """Insert new deliveries (rows from `new_delivery_row`, the stream consumer's output);
    one per app and stream entry, so a batch handled twice adds nothing. The workers are
    woken after commit for rows nobody holds yet."""
    if not rows:
        return 0
    count = upsert_rows(WebhookDelivery, DELIVERY_COLUMNS, rows,
                        conflict=("app_id", "stream_id"), update=())  # fmt: skip
    # Rows written leased are already on their way (parley.webhooks.handoff): a wake is
    # for the rest.
    if any(row[-1] is None for row in rows):
        transaction.on_commit(wake.wake_worker)
    return count


def do_purge_delivery_log(older_than: dt.timedelta | None = None) -> int:
    """Delete settled deliveries (delivered, dead) whose event is older than the log's
    retention (simulation clock), with their attempts; pending ones stay. Returns how many
    deliveries went."""
    from django.conf import settings

    if older_than is None:
        older_than = dt.timedelta(days=float(settings.PARLEY["WEBHOOK_LOG_DAYS"]))
    cutoff = clock.now() - older_than
    settled = WebhookDelivery.objects.filter(
        created_at__lt=cutoff, state__in=[WebhookDelivery.DELIVERED, WebhookDelivery.DEAD]
    )
    deleted = 0
    while True:  # in slices, so one purge never holds a huge transaction
        ids = list(settled.values_list("pk", flat=True)[:5000])
        if not ids:
            return deleted
        with transaction.atomic():
            WebhookAttempt.objects.filter(delivery_id__in=ids).delete()
            deleted += (
                WebhookDelivery.objects.filter(pk__in=ids)
                .delete()[1]
                .get(WebhookDelivery._meta.label, 0)
            )
