"""Billing's Celery tasks: thin wrappers around actions."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from billing.actions import do_finalise_events, do_rate
from billing.reports import do_write_daily_reports
from parley.accounts.models import Business
from parley.core import clock


@shared_task(name="billing.tasks.rate_customers")
def rate_customers(business_id: int, customers: list[str]) -> int:
    business = Business.objects.get(pk=business_id)
    return do_rate(business, customers=customers).events


@shared_task(name="billing.tasks.finalise_events")
def finalise_events() -> int:
    return do_finalise_events()


@shared_task(name="billing.tasks.write_daily_reports")
def write_daily_reports(day: str | None = None) -> int:
    """Yesterday's reports by default (UTC), for every business; and the day whose
    conversations have just become final, rewritten with final figures."""
    today = clock.now().date()
    days = [dt.date.fromisoformat(day)] if day else [today - dt.timedelta(days=d) for d in (1, 3)]
    written = 0
    for business in Business.objects.all():
        for target in days:
            written += len(do_write_daily_reports(business, target))
    return written
