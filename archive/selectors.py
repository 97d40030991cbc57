"""Reading the archive: search over the record index, one record's content, holds,
policies, files and reports. No writes here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from archive.models import (
    ArchiveFile,
    ArchiveRecord,
    ExportJob,
    LegalHold,
    RetentionPolicy,
    VerificationReport,
)
from archive.storage import get_store
from archive.warc.reader import read_member

CRITERIA = ("customer", "agent", "number", "conversation", "message_id", "start", "end", "q")


class CriteriaError(ValueError):
    """A search criterion is malformed; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Criteria:
    """What a search, a legal hold or an export selects. Empty means everything."""

    customer: str = ""
    agent: int | None = None
    number: int | None = None
    conversation: int | None = None
    message_id: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    q: str = ""

    def is_empty(self) -> bool:
        return self == Criteria()

    def as_json(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in dataclasses.asdict(self).items()
            if v not in (None, "")
        }

    @classmethod
    def parse(cls, data: Any) -> Criteria:
        if not isinstance(data, dict):
            raise CriteriaError("The search criteria must be an object.")
        unknown = set(data) - set(CRITERIA)
        if unknown:
            raise CriteriaError(f"Unknown search criteria: {', '.join(sorted(unknown))}.")
        values: dict[str, Any] = {}
        for key in ("customer", "message_id", "q"):
            value = data.get(key, "")
            if value in (None, ""):
                continue
            if not isinstance(value, str) or len(value) > 200:
                raise CriteriaError(f"{key} must be a string of at most 200 characters.")
            values[key] = value.strip()
        for key in ("agent", "number", "conversation"):
            value = data.get(key)
            if value is None or value == "":
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise CriteriaError(f"{key} must be an id (a whole number).") from None
            if isinstance(value, bool) or not 0 < number < 2**63:
                raise CriteriaError(f"{key} must be an id (a whole number).")
            values[key] = number
        for key in ("start", "end"):
            value = data.get(key)
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise CriteriaError(f"{key} must be an ISO 8601 date or time.")
            try:
                at = dt.datetime.fromisoformat(value)
            except ValueError:
                raise CriteriaError(f"{key} must be an ISO 8601 date or time.") from None
            if at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            if key == "end" and len(value) == 10:
                try:
                    at += dt.timedelta(days=1)  # a date as end means through that day
                except OverflowError:
                    at = dt.datetime.max.replace(tzinfo=dt.UTC)
            values[key] = at
        criteria = cls(**values)
        if criteria.start and criteria.end and criteria.start >= criteria.end:
            raise CriteriaError("start must be before end.")
        return criteria

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Criteria:
        return cls.parse(data)


def filter_records(qs: QuerySet[ArchiveRecord], c: Criteria) -> QuerySet[ArchiveRecord]:
    if c.customer:
        qs = qs.filter(customer=c.customer)
    if c.agent is not None:
        qs = qs.filter(agent_user_id=c.agent)
    if c.number is not None:
        qs = qs.filter(number_id=c.number)
    if c.conversation is not None:
        qs = qs.filter(conversation_id=c.conversation)
    if c.message_id:
        qs = qs.filter(Q(message_id=c.message_id) | Q(record_id=c.message_id))
    if c.start is not None:
        qs = qs.filter(occurred_at__gte=c.start)
    if c.end is not None:
        qs = qs.filter(occurred_at__lt=c.end)
    if c.q:
        qs = qs.filter(text__icontains=c.q)
    return qs


def search_records(business_id: int, criteria: Criteria) -> QuerySet[ArchiveRecord]:
    """Records of live (not purged) files matching the criteria, oldest first."""
    qs = ArchiveRecord.objects.filter(business_id=business_id).defer("member")
    return filter_records(qs, criteria).order_by("occurred_at", "id")


def get_record(business_id: int, pk: int) -> ArchiveRecord | None:
    return (
        ArchiveRecord.objects.filter(business_id=business_id, pk=pk).select_related("file").first()
    )


def record_member(record: ArchiveRecord) -> bytes:
    """The record's gzip member: still in the index while its file is open, else read from
    the file in the store at its offset."""
    if record.member is not None:
        return bytes(record.member)
    assert record.offset is not None
    return get_store().get_range(record.file.name, record.offset, record.length)


@dataclasses.dataclass(frozen=True)
class RecordView:
    record: ArchiveRecord
    headers: dict[str, str]
    payload: Any
    raw_payload: str


def view_record(record: ArchiveRecord) -> RecordView:
    read = read_member(record_member(record))
    text = read.payload.decode("utf-8", errors="replace")
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = None
    return RecordView(record, dict(read.headers), payload, text)


def active_holds(business_id: int) -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(business_id=business_id, released_at__isnull=True)


def list_holds(business_id: int) -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(business_id=business_id).select_related(
        "placed_by", "released_by"
    )


def files_matching(business_id: int, criteria: Criteria) -> QuerySet[ArchiveRecord, int]:
    """The ids of the (live) files holding a record the criteria match."""
    records = filter_records(ArchiveRecord.objects.filter(business_id=business_id), criteria)
    return records.values_list("file_id", flat=True).distinct()


def held_file_ids(business_id: int, file_ids: list[int] | None = None) -> set[int]:
    """Files holding at least one record an active hold matches."""
    held: set[int] = set()
    for hold in active_holds(business_id):
        matching = files_matching(business_id, Criteria.from_json(hold.criteria))
        if file_ids is not None:
            matching = matching.filter(file_id__in=file_ids)
        held.update(matching)
    return held


def list_policies(business_id: int) -> QuerySet[RetentionPolicy]:
    return RetentionPolicy.objects.filter(business_id=business_id).select_related("number")


def list_files(business_id: int) -> QuerySet[ArchiveFile]:
    return ArchiveFile.objects.filter(business_id=business_id).order_by("-opened_at", "-id")


def list_exports(business_id: int) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(business_id=business_id).select_related("requested_by")


def get_export(business_id: int, pk: int) -> ExportJob | None:
    return ExportJob.objects.filter(business_id=business_id, pk=pk).first()


def list_reports(business_id: int) -> QuerySet[VerificationReport]:
    return VerificationReport.objects.filter(business_id=business_id)


@dataclasses.dataclass(frozen=True)
class ArchiveSummary:
    files_open: int
    files_closed: int
    files_purged: int
    files_held: int
    records: int
    bytes_stored: int


def summary(business_id: int) -> ArchiveSummary:
    closed, purged = Q(state=ArchiveFile.State.CLOSED), Q(state=ArchiveFile.State.PURGED)
    files = ArchiveFile.objects.filter(business_id=business_id).aggregate(
        open=Count("pk", filter=Q(state=ArchiveFile.State.OPEN)),
        closed=Count("pk", filter=closed),
        purged=Count("pk", filter=purged),
        held=Count("pk", filter=Q(legal_hold=True) & ~purged),
        size=Sum("size", filter=closed),
    )
    return ArchiveSummary(
        files_open=files["open"],
        files_closed=files["closed"],
        files_purged=files["purged"],
        files_held=files["held"],
        records=ArchiveRecord.objects.filter(business_id=business_id).count(),
        bytes_stored=files["size"] or 0,
    )
