"""Daily reports in the real platform's shape, written as CSV files to storage (standing in
for the carriers' SFTP drop): billing events (standard and WhatsApp), billing events of the
US model (with segment_count), and the activity log (one row per message)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from billing.models import BillableEventRecord, MessageFactRecord, ReportFile
from parley.accounts.models import Business
from parley.core import clock

EVENT_HEADER = [
    "billing_event_id", "type", "agent_id", "start_time", "duration", "mt_messages",
    "mo_messages", "size_kilobytes", "country", "status",
]  # fmt: skip
US_HEADER = [*EVENT_HEADER[:-1], "segment_count", "status"]
ACTIVITY_HEADER = [
    "billing_event_id", "type", "agent_id", "message_id", "direction", "content",
    "delivery_time", "status",
]  # fmt: skip


def _iso(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""


def _duration(event: BillableEventRecord) -> str:
    return f"{int((event.end - event.start).total_seconds())}s"


def _write(business: Business, kind: str, day: dt.date, header: list[str], rows: list[list[str]],
           provisional: int) -> ReportFile:  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = f"billing-reports/{business.slug}/{day.isoformat()}/{kind}.csv"
    if default_storage.exists(path):
        default_storage.delete(path)
    saved = default_storage.save(path, ContentFile(buffer.getvalue().encode()))
    report, _ = ReportFile.objects.update_or_create(
        business=business,
        kind=kind,
        day=day,
        defaults={
            "path": saved,
            "rows": len(rows),
            "provisional_rows": provisional,
            "created_at": clock.now(),
        },
    )
    return report


def do_write_daily_reports(business: Business, day: dt.date) -> list[ReportFile]:
    """Reports of the events delivered on `day` (UTC). Rewriting a day replaces its files, so
    a day written again after its conversations became final carries the final figures."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    events = list(
        BillableEventRecord.objects.filter(
            business=business, start__gte=start, start__lt=start + dt.timedelta(days=1)
        ).order_by("start", "event_id")
    )
    standard = [e for e in events if e.model != "us"]
    us = [e for e in events if e.model == "us"]

    def event_cells(e: BillableEventRecord) -> list[str]:
        size = f"{e.size_bytes / 1024:.3f}"
        return [e.event_id, e.event_type, e.agent_id, _iso(e.start), _duration(e),
                str(e.mt_messages), str(e.mo_messages), size, e.country]  # fmt: skip

    message_ids = [m for e in events for m in e.message_ids.split()]
    facts: dict[str, MessageFactRecord] = {}
    for i in range(0, len(message_ids), 5000):  # stay under the database's parameter limit
        chunk = message_ids[i : i + 5000]
        for f in MessageFactRecord.objects.filter(business=business, message_id__in=chunk):
            facts[f.message_id] = f
    activity = [
        [e.event_id, e.event_type, e.agent_id, m, facts[m].direction, facts[m].content,
         _iso(facts[m].delivered_at), e.status]
        for e in events
        for m in e.message_ids.split()
        if m in facts
    ]  # fmt: skip
    with transaction.atomic():
        return [
            _write(business, "billing_events", day, EVENT_HEADER,
                   [[*event_cells(e), e.status] for e in standard],
                   sum(e.status == "provisional" for e in standard)),
            _write(business, "billing_events_us", day, US_HEADER,
                   [[*event_cells(e), str(e.segment_count), e.status] for e in us],
                   sum(e.status == "provisional" for e in us)),
            _write(business, "activity_log", day, ACTIVITY_HEADER, activity,
                   sum(row[-1] == "provisional" for row in activity)),
        ]  # fmt: skip
