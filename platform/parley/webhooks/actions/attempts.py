"""The delivery worker's writes: claiming due deliveries, and recording what each attempt
brought back (the delivery log, the retry schedule, the circuit breaker, 410)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from parley.core import clock
from parley.core.bulk import upsert_rows
from parley.core.events import WebhookTestRequested
from parley.webhooks import schedule
from parley.webhooks.handoff import Handoff
from parley.webhooks.models import WebhookApp, WebhookAttempt, WebhookDelivery
from parley.webhooks.selectors.apps import signing_secrets

TEST_EVENT = WebhookTestRequested.name


def policy() -> schedule.RetryPolicy:
    return schedule.RetryPolicy.from_settings(settings.PARLEY["WEBHOOK_RETRY"])


@dataclasses.dataclass(frozen=True)
class Claim:
    """A delivery a worker holds until its lease lapses: what to send, where, signed how."""

    delivery_id: int
    app_pk: int
    url: str
    secrets: tuple[str, ...]
    timeout: float
    max_concurrency: int
    webhook_id: str
    body: bytes
    number: int  # this attempt's number over the delivery's life
    round_attempts: int  # earlier attempts of this round
    round_started_at: dt.datetime | None
    claimed_at: dt.datetime  # simulation clock
    claimed_real: float  # wall clock (epoch seconds), to place the attempt on the clock


@dataclasses.dataclass(frozen=True)
class Result:
    claim: Claim
    started_at: dt.datetime  # simulation clock
    headers: dict[str, str]
    latency_ms: float | None
    status: int | None
    excerpt: str = ""
    error: str = ""
    retry_after: str | None = None


def _eligible_apps(now: dt.datetime, p: schedule.RetryPolicy) -> dict[int, WebhookApp]:
    """Apps deliveries may go to now: verified for their current target, not disabled by a
    410, circuit not open."""
    apps = WebhookApp.objects.filter(disabled_at__isnull=True, verified_at__isnull=False).exclude(
        circuit_open_until__gt=now
    )
    return {a.pk: a for a in apps if a.is_verified}


def do_claim_due_deliveries(limit: int) -> list[Claim]:
    """Lease up to `limit` due deliveries (oldest due first) to this worker. Other workers
    skip leased rows; a lapsed lease (a killed worker) makes a row claimable again. An app
    whose circuit is half-open gets one delivery, its probe."""
    now = clock.now()
    real = clock.real_now()
    p = policy()
    apps = _eligible_apps(now, p)
    if not apps or limit <= 0:
        return []
    subscribed = [pk for pk, a in apps.items() if a.subscribed]
    lease = dt.timedelta(seconds=float(settings.PARLEY["WEBHOOK_LEASE_SECONDS"]))
    fields = ("pk", "app_id", "webhook_id", "body", "attempts", "round_attempts",
              "round_started_at")  # fmt: skip
    with transaction.atomic():
        rows = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=WebhookDelivery.PENDING, next_attempt_at__lte=now)
            # Again in the statement: a result recorded since `apps` was read (a 410, an
            # opened circuit) commits with the row it releases, so the row and its app agree.
            .filter(app__disabled_at__isnull=True)
            .exclude(app__circuit_open_until__gt=now)
            .filter(Q(app_id__in=subscribed) | Q(app_id__in=list(apps), event=TEST_EVENT))
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=real))
            .order_by("next_attempt_at", "id")
            .values_list(*fields)[:limit]
        )
        half_open = {
            pk
            for pk, a in apps.items()
            if schedule.is_half_open(schedule.Breaker(a.consecutive_failures,
                                                      a.circuit_open_until), now, p)
        }  # fmt: skip
        # A half-open app's probe still out (leased): no other delivery until it is settled.
        probing: set[int] = set(
            WebhookDelivery.objects.filter(app_id__in=half_open, leased_until__gt=real)
            .values_list("app_id", flat=True)
            .distinct()
            if half_open
            else ()
        )
        kept = []
        for row in rows:
            if row[1] in half_open:
                if row[1] in probing:
                    continue
                probing.add(row[1])
            kept.append(row)
        if kept:
            WebhookDelivery.objects.filter(pk__in=[r[0] for r in kept]).update(
                leased_until=real + lease
            )
    return _claims(
        ((pk, apps[app_pk], wid, body, attempts, round_attempts, round_started_at)
         for pk, app_pk, wid, body, attempts, round_attempts, round_started_at in kept),
        now, real,
    )  # fmt: skip


ClaimRow = tuple[int, WebhookApp, str, str, int, int, dt.datetime | None]


def _claims(rows: Iterable[ClaimRow], now: dt.datetime, real: dt.datetime) -> list[Claim]:
    """Claims of leased rows (pk, app, webhook-id, body, attempts so far, attempts this
    round, the round's start), each app's live secrets read once."""
    secrets: dict[int, tuple[str, ...]] = {}
    claims = []
    for pk, app, wid, body, attempts, round_attempts, round_started_at in rows:
        if app.pk not in secrets:
            secrets[app.pk] = tuple(signing_secrets(app, now))
        claims.append(
            Claim(
                delivery_id=pk, app_pk=app.pk, url=app.target_url, secrets=secrets[app.pk],
                timeout=app.timeout_seconds, max_concurrency=app.max_concurrency,
                webhook_id=wid, body=body.encode(), number=attempts + 1,
                round_attempts=round_attempts, round_started_at=round_started_at,
                claimed_at=now, claimed_real=real.timestamp(),
            )
        )  # fmt: skip
    return claims


ATTEMPT_COLUMNS = ("delivery_id", "number", "url", "started_at", "latency_ms",
                   "request_headers", "response_status", "response_excerpt", "error",
                   "next_retry_at")  # fmt: skip


def handed_over_claims(handoff: Handoff) -> list[Claim]:
    """Claims for the deliveries a consumer run in this worker wrote leased to it: those
    that committed (a batch rolled back took its rows with it)."""
    if not handoff.taken:
        return []
    now = clock.now()
    real = clock.real_now()
    apps = {wid: app for wid, app in handoff.taken}
    rows = WebhookDelivery.objects.filter(
        webhook_id__in=list(apps), leased_until=handoff.lease_until,
        state=WebhookDelivery.PENDING, attempts=0,
    ).values_list("pk", "webhook_id", "body")  # fmt: skip
    return _claims(((pk, apps[wid], wid, body, 0, 0, None) for pk, wid, body in rows), now, real)


def _attempt_row(r: Result, next_retry_at: dt.datetime | None) -> tuple[object, ...]:
    return (r.claim.delivery_id, r.claim.number, r.claim.url, r.started_at, r.latency_ms,
            r.headers, r.status, r.excerpt[:1000], r.error[:500], next_retry_at)  # fmt: skip


def _failure_text(r: Result) -> str:
    if r.error:
        return r.error[:500]
    return f"HTTP {r.status}" + (f": {r.excerpt[:200]}" if r.excerpt else "")


def do_record_attempts(results: list[Result]) -> None:
    """Write a batch of attempts' results: the log rows, each delivery's new state, and each
    app's circuit (a 410 disables the app). One transaction."""
    if not results:
        return
    now = clock.now()
    p = policy()
    attempts: list[tuple[object, ...]] = []
    delivered: defaultdict[int, list[int]] = defaultdict(list)  # by status code
    changed: list[WebhookDelivery] = []
    per_app: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])  # successes, failures
    gone: dict[int, str] = {}
    for r in results:
        c = r.claim
        started = c.round_started_at or r.started_at
        decision = schedule.decide(
            status=r.status, retry_after_header=r.retry_after, attempts=c.round_attempts + 1,
            round_started_at=started, now=now, policy=p,
        )  # fmt: skip
        attempts.append(_attempt_row(r, decision.next_attempt_at))
        if decision.outcome == schedule.DELIVERED:
            assert r.status is not None
            delivered[r.status].append(c.delivery_id)
            per_app[c.app_pk][0] += 1
            continue
        per_app[c.app_pk][1] += 1
        if decision.outcome == schedule.GONE:
            gone[c.app_pk] = f"The receiver answered 410 Gone at {c.url}"
        changed.append(
            WebhookDelivery(
                pk=c.delivery_id,
                state=WebhookDelivery.DEAD if decision.outcome == schedule.DEAD else
                WebhookDelivery.PENDING,
                attempts=c.number, round_attempts=c.round_attempts + 1, round_started_at=started,
                next_attempt_at=decision.next_attempt_at or now, leased_until=None,
                last_status=r.status, last_error=_failure_text(r),
            )
        )  # fmt: skip
    with transaction.atomic():
        upsert_rows(WebhookAttempt, ATTEMPT_COLUMNS, attempts, conflict=("delivery_id", "number"),
                    update=())  # fmt: skip
        for status, ids in delivered.items():
            WebhookDelivery.objects.filter(pk__in=ids, state=WebhookDelivery.PENDING).update(
                state=WebhookDelivery.DELIVERED, attempts=F("attempts") + 1,
                round_attempts=F("round_attempts") + 1, delivered_at=now, leased_until=None,
                last_status=status, last_error="",
            )  # fmt: skip
        if changed:
            WebhookDelivery.objects.bulk_update(
                changed,
                ["state", "attempts", "round_attempts", "round_started_at", "next_attempt_at",
                 "leased_until", "last_status", "last_error"],
            )  # fmt: skip
        _update_apps(per_app, gone, now, p)


def _update_apps(per_app: dict[int, list[int]], gone: dict[int, str], now: dt.datetime,
                 p: schedule.RetryPolicy) -> None:  # fmt: skip
    """Each app's circuit after its results; a 410 disables it. Most flushes change nothing
    (a healthy receiver's circuit stays closed): rows are locked only when they change."""
    from parley.accounts.actions.audit import do_record_audit

    def changes(app: WebhookApp) -> dict[str, Any]:
        successes, failures = per_app[app.pk]
        before = schedule.Breaker(app.consecutive_failures, app.circuit_open_until)
        after = schedule.after_attempts(before, successes, failures, now, p)
        updates: dict[str, Any] = {}
        if after != before:
            updates.update(consecutive_failures=after.consecutive_failures,
                           circuit_open_until=after.open_until)  # fmt: skip
        if app.pk in gone and app.disabled_at is None:
            updates.update(disabled_at=now, disabled_reason=gone[app.pk])
        return updates

    fields = ("pk", "business_id", "app_id", "consecutive_failures", "circuit_open_until",
              "disabled_at")  # fmt: skip
    seen = WebhookApp.objects.filter(pk__in=sorted(per_app)).only(*fields)
    changing = sorted(app.pk for app in seen if changes(app))
    if not changing:
        return
    for app in WebhookApp.objects.select_for_update().filter(pk__in=changing).only(*fields):
        updates = changes(app)
        if not updates:
            continue
        WebhookApp.objects.filter(pk=app.pk).update(**updates)
        if "disabled_at" in updates:
            do_record_audit("webhooks.app_disabled", business_id=app.business_id,
                            actor_label="webhook delivery", target=f"webhook app {app.app_id}",
                            details={"reason": gone[app.pk]})  # fmt: skip
