"""The compliance archive over the API, under the one API base (`/parley/v1/archive/…`).

    GET  /parley/v1/archive/summary                      files, records and bytes, by state
    GET  /parley/v1/archive/files                        the WARC files (?state), newest first
    GET  /parley/v1/archive/records                      search the record index (?customer,
                                                         agent, number, conversation,
                                                         message_id, start, end, q)
    GET  /parley/v1/archive/records/{record_id}          one record: index, WARC headers, payload
    GET  /parley/v1/archive/holds                        legal holds, newest first
    POST /parley/v1/archive/holds                        place a hold (name, reason, criteria)
    GET  /parley/v1/archive/holds/{hold_id}              one hold
    POST /parley/v1/archive/holds/{hold_id}/release      release it (reason)
    GET  /parley/v1/archive/retention-policies           the business's policies
    POST /parley/v1/archive/retention-policies           set the business's (or a number's) policy
    GET  /parley/v1/archive/retention-presets            the presets a policy may name
    GET  /parley/v1/archive/exports                      export jobs, newest first
    POST /parley/v1/archive/exports                      export what criteria select (warc, wacz)
    GET  /parley/v1/archive/exports/{export_id}          state, progress and manifest
    GET  /parley/v1/archive/exports/{export_id}/download the file (audited)
    GET  /parley/v1/archive/verifications                verification reports, newest first
    POST /parley/v1/archive/verifications                verify the archive now; the report

Permissions: content — records, holds (their criteria may hold keywords) and exports — needs
"Search and export the archive" (view_archive); placing and releasing holds and setting
policies need "Set retention and legal holds" (manage_retention); the metadata — summary,
files, policies and presets, verification — needs "See the archive's files, retention and
verification" (view_archive_status), which administrators hold: they never reach content.
A staff session or a token; a token acts only while its creator is an active member of the
business who holds the permission, and what it does is recorded as its creator's. Thin:
parse, authorise, call one action or selector, render."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import BasePagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from archive.actions.exports import (
    CONTENT_TYPES,
    ExportError,
    do_download_export,
    do_request_export,
    open_export,
)
from archive.actions.holds import HoldError, do_place_hold, do_release_hold
from archive.actions.reads import do_read_record
from archive.actions.retention import PolicyError, do_set_retention_policy
from archive.actions.verify import do_verify_archive
from archive.models import (
    ArchiveFile,
    ArchiveRecord,
    ExportJob,
    LegalHold,
    RetentionMode,
    RetentionPolicy,
    VerificationReport,
)
from archive.retention import CUSTOM, DEFAULT_PRESET, MAX_YEARS, PRESETS
from archive.selectors import (
    CRITERIA,
    Criteria,
    CriteriaError,
    get_export,
    get_record,
    list_exports,
    list_files,
    list_holds,
    list_policies,
    list_reports,
    search_records,
    summary,
)
from archive.storage import ObjectMissing
from archive.warc.reader import ArchiveError
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import ApiClient, BearerTokenAuthentication
from parley.api.base import ApiView, MetaCursorPagination, query_text, safe_text
from parley.api.fields import StrictString, named_choice
from parley.api.permissions import business_of, capability
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.core.http import client_address

BASE = "/parley/v1/archive"
INT64 = 2**63 - 1
ID_PATTERN = r"[0-9]{1,18}"
FILE_STATES = [s.value for s in ArchiveFile.State]
EXPORT_STATES = [s.value for s in ExportJob.State]
FORMATS = [f.value for f in ExportJob.Format]
MODES = [m.value for m in RetentionMode]
PRESET_KEYS = [*PRESETS, CUSTOM]
SCOPES = [s.value for s in LegalHold.Scope]
MAX_CUSTOM_DAYS = 366 * MAX_YEARS
# Query parameters of the record search that are not criteria.
NOT_CRITERIA = frozenset({"limit", "after", "access_token"})

VIEW = Capability.VIEW_ARCHIVE
MANAGE = Capability.MANAGE_RETENTION
STATUS = Capability.VIEW_ARCHIVE_STATUS
NEEDS = {
    VIEW: "Permission: view_archive (compliance officers).",
    MANAGE: "Permission: manage_retention (compliance officers).",
    STATUS: "Permission: view_archive_status (administrators and compliance officers); "
    "metadata only, never content.",
}


# -- criteria --------------------------------------------------------------------------------


def parse_criteria(data: Any) -> Criteria:
    """Search criteria from a body's object or the query's parameters; `CriteriaError` says
    what is wrong (unknown names included)."""
    return Criteria.parse(data)


_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": INT64}
_TEXT_SCHEMA = {"type": "string", "maxLength": 200}
CRITERIA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "What a search, a legal hold or an export selects; every criterion "
    "given must match, none given selects everything.",
    "properties": {
        "customer": {**_TEXT_SCHEMA, "description": "The customer's number (E.164)."},
        "agent": {**_ID_SCHEMA, "description": "The agent's staff user id."},
        "number": {**_ID_SCHEMA, "description": "The business number's id."},
        "conversation": {**_ID_SCHEMA, "description": "The conversation's id."},
        "message_id": {**_TEXT_SCHEMA, "description": "A message id (wamid) or a record id."},
        "start": {
            "type": "string",
            "maxLength": 40,
            "description": "At or after: an ISO 8601 date or time (UTC without an offset).",
        },
        "end": {
            "type": "string",
            "maxLength": 40,
            "description": "Before: an ISO 8601 date or time; a date alone means through that day.",
        },
        "q": {**_TEXT_SCHEMA, "description": "Words in the text (case-insensitive)."},
    },
}


@extend_schema_field(CRITERIA_SCHEMA, component_name="ArchiveCriteria")
class CriteriaField(serializers.Field):
    """A criteria object in a body: unknown names, wrong types and bad dates are refused."""

    def to_internal_value(self, data: Any) -> Criteria:
        try:
            return parse_criteria(data)
        except CriteriaError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value: Any) -> Any:
        return value.as_json() if isinstance(value, Criteria) else value


def _query_criteria(request: Request) -> Criteria:
    data: dict[str, str] = {}
    for name, values in request.query_params.lists():
        if name in NOT_CRITERIA:
            continue
        if len(values) > 1:
            raise InvalidParameter(
                f"(#100) Invalid parameter: {safe_text(name, 40)} is given more than once.",
                field=name,
            )
        data[name] = values[0]
    try:
        return parse_criteria(data)
    except CriteriaError as error:
        raise InvalidParameter(f"(#100) Invalid parameter: {error}") from None


# -- request and response shapes -------------------------------------------------------------


FileState = named_choice(FILE_STATES, "ArchiveFileState")
ModeField = named_choice(MODES, "ArchiveRetentionMode")
FormatField = named_choice(FORMATS, "ArchiveExportFormat")
PresetKey = named_choice(PRESET_KEYS, "ArchiveRetentionPresetKey")
ExportState = named_choice(EXPORT_STATES, "ArchiveExportState")
HoldScope = named_choice(SCOPES, "ArchiveHoldScope")


class ArchiveHoldIn(serializers.Serializer[Any]):
    name = StrictString(max_length=120)
    reason = StrictString(max_length=500, allow_blank=True, required=False, default="")
    criteria = CriteriaField(help_text="The records it keeps: at least one criterion.")


class ArchiveReleaseIn(serializers.Serializer[Any]):
    reason = StrictString(max_length=500, help_text="Why the hold is released (audited).")


class ArchivePolicyIn(serializers.Serializer[Any]):
    preset = PresetKey(
        choices=PRESET_KEYS, help_text="A preset's key, or custom (with years and/or days)."
    )
    mode = ModeField(
        choices=MODES,
        help_text="COMPLIANCE: nobody may shorten or lift it; GOVERNANCE: a privileged caller may.",
    )
    number_id = serializers.IntegerField(
        min_value=1,
        max_value=INT64,
        required=False,
        allow_null=True,
        help_text="One number's policy; none for the business's own.",
    )
    years = serializers.IntegerField(
        min_value=0, max_value=MAX_YEARS, required=False, allow_null=True
    )
    days = serializers.IntegerField(
        min_value=0, max_value=MAX_CUSTOM_DAYS, required=False, allow_null=True
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        custom = attrs["preset"] == CUSTOM
        period = attrs.get("years") is not None or attrs.get("days") is not None
        if period and not custom:
            raise serializers.ValidationError("years and days are for the custom preset only.")
        if custom and not period:
            raise serializers.ValidationError("a custom policy needs years or days.")
        return attrs


class ArchiveExportIn(serializers.Serializer[Any]):
    criteria = CriteriaField(required=False, help_text="What to export (none: everything).")
    format = FormatField(
        choices=FORMATS, required=False, default="warc", help_text="warc (default) or wacz."
    )


class ArchiveStaffRefOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ArchiveSummaryOut(serializers.Serializer[Any]):
    files_open = serializers.IntegerField()
    files_closed = serializers.IntegerField()
    files_purged = serializers.IntegerField()
    files_held = serializers.IntegerField(help_text="Live files under a legal hold.")
    records = serializers.IntegerField(help_text="Records in the index (of live files).")
    bytes_stored = serializers.IntegerField(help_text="The closed files' size.")


class ArchiveFileOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    state = FileState(choices=FILE_STATES)
    period = serializers.CharField(help_text="YYYY-MM of its records.")
    retention_class = serializers.CharField()
    mode = ModeField(choices=MODES)
    retention_years = serializers.IntegerField()
    retention_days = serializers.IntegerField()
    record_count = serializers.IntegerField()
    pending_bytes = serializers.IntegerField(help_text="Records waiting while it is open.")
    size = serializers.IntegerField(help_text="Bytes, once closed.")
    sha256 = serializers.CharField(allow_blank=True)
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    last_record_at = serializers.DateTimeField(allow_null=True)
    retain_until = serializers.DateTimeField(allow_null=True)
    legal_hold = serializers.BooleanField()
    purged_at = serializers.DateTimeField(allow_null=True)
    purge_blocked = serializers.CharField(
        allow_blank=True, help_text="Why a due purge waits (the store's own lock)."
    )


class ArchiveRecordOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    record_id = serializers.CharField(help_text="The WARC-Record-ID (urn:uuid:…).")
    kind = serializers.CharField(help_text="The WARC-Type: resource or metadata.")
    fact = serializers.CharField(help_text="message, status, routing or hold.")
    target_uri = serializers.CharField()
    refers_to = serializers.CharField(allow_blank=True)
    message_id = serializers.CharField(allow_blank=True)
    conversation_id = serializers.IntegerField(allow_null=True)
    number_id = serializers.IntegerField(allow_null=True)
    customer = serializers.CharField(allow_blank=True)
    agent_id = serializers.IntegerField(allow_null=True, help_text="The agent's user id.")
    direction = serializers.CharField(allow_blank=True)
    occurred_at = serializers.DateTimeField()
    text = serializers.CharField(allow_blank=True, help_text="The text keyword search reads.")
    digest = serializers.CharField(help_text="The WARC-Block-Digest.")
    length = serializers.IntegerField(help_text="Bytes of its gzip member.")
    file_id = serializers.IntegerField()


class ArchiveRecordDetailOut(ArchiveRecordOut):
    file_name = serializers.CharField()
    file_state = FileState(choices=FILE_STATES)
    offset = serializers.IntegerField(allow_null=True, help_text="In its file, once closed.")
    headers = serializers.DictField(child=serializers.CharField(), help_text="WARC headers.")
    payload = serializers.JSONField(
        allow_null=True, help_text="The record's JSON block (null if it is not JSON)."
    )
    payload_text = serializers.CharField(
        allow_null=True, help_text="The block as text when it is not JSON, else null."
    )


class ArchiveHoldOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    scope = HoldScope(choices=SCOPES)
    criteria = CriteriaField()
    active = serializers.BooleanField()
    placed_by = ArchiveStaffRefOut(allow_null=True)
    placed_at = serializers.DateTimeField()
    released_by = ArchiveStaffRefOut(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)
    release_reason = serializers.CharField(allow_blank=True)


class ArchivePolicyOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    number_id = serializers.IntegerField(allow_null=True, help_text="None: the business's.")
    number = serializers.CharField(allow_null=True, help_text="The number (E.164).")
    preset = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    years = serializers.IntegerField()
    days = serializers.IntegerField()
    mode = ModeField(choices=MODES)
    retention_class = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ArchivePresetOut(serializers.Serializer[Any]):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    years = serializers.IntegerField()
    basis = serializers.CharField()


class ArchivePresetsOut(serializers.Serializer[Any]):
    data = ArchivePresetOut(many=True)  # type: ignore[assignment]
    custom = serializers.CharField(help_text="The key of a policy with its own years and days.")
    default = serializers.CharField(
        help_text="The preset that applies while the business has set no policy."
    )
    max_years = serializers.IntegerField()


class ArchiveExportOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    state = ExportState(choices=EXPORT_STATES)
    format = FormatField(choices=FORMATS)
    criteria = CriteriaField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="Percent, 0 to 100.")
    file_name = serializers.CharField(allow_blank=True)
    size = serializers.IntegerField()
    sha256 = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    manifest = serializers.DictField(help_text="The file's manifest, once done.")
    requested_by = ArchiveStaffRefOut(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.URLField(allow_null=True, help_text="Once done.")


class ArchiveProblemOut(serializers.Serializer[Any]):
    file_name = serializers.CharField()
    kind = serializers.CharField()
    detail = serializers.CharField()


class ArchiveReportOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    checked_at = serializers.DateTimeField()
    ok = serializers.BooleanField()
    files_checked = serializers.IntegerField()
    records_checked = serializers.IntegerField()
    problems = ArchiveProblemOut(many=True)
    requested_by = ArchiveStaffRefOut(allow_null=True)


# -- rendering -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _staff(user: StaffUser | None) -> dict[str, Any] | None:
    return {"id": user.pk, "name": user.full_name} if user is not None else None


def summary_node(business_id: int) -> dict[str, Any]:
    s = summary(business_id)
    return {
        "files_open": s.files_open,
        "files_closed": s.files_closed,
        "files_purged": s.files_purged,
        "files_held": s.files_held,
        "records": s.records,
        "bytes_stored": s.bytes_stored,
    }


def file_node(f: ArchiveFile) -> dict[str, Any]:
    return {
        "id": f.pk,
        "name": f.name,
        "state": f.state,
        "period": f.period,
        "retention_class": f.retention_class,
        "mode": f.mode,
        "retention_years": f.retention_years,
        "retention_days": f.retention_days,
        "record_count": f.record_count,
        "pending_bytes": f.pending_bytes,
        "size": f.size,
        "sha256": f.sha256,
        "opened_at": _iso(f.opened_at),
        "closed_at": _iso(f.closed_at),
        "last_record_at": _iso(f.last_record_at),
        "retain_until": _iso(f.retain_until),
        "legal_hold": f.legal_hold,
        "purged_at": _iso(f.purged_at),
        "purge_blocked": f.purge_blocked,
    }


def record_node(r: ArchiveRecord) -> dict[str, Any]:
    return {
        "id": r.pk,
        "record_id": r.record_id,
        "kind": r.kind,
        "fact": r.fact,
        "target_uri": r.target_uri,
        "refers_to": r.refers_to,
        "message_id": r.message_id,
        "conversation_id": r.conversation_id,
        "number_id": r.number_id,
        "customer": r.customer,
        "agent_id": r.agent_user_id,
        "direction": r.direction,
        "occurred_at": _iso(r.occurred_at),
        "text": r.text,
        "digest": r.digest,
        "length": r.length,
        "file_id": r.file_id,
    }


def hold_node(h: LegalHold) -> dict[str, Any]:
    return {
        "id": h.pk,
        "name": h.name,
        "reason": h.reason,
        "scope": h.scope,
        "criteria": h.criteria,
        "active": h.released_at is None,
        "placed_by": _staff(h.placed_by),
        "placed_at": _iso(h.placed_at),
        "released_by": _staff(h.released_by),
        "released_at": _iso(h.released_at),
        "release_reason": h.release_reason,
    }


def policy_node(p: RetentionPolicy) -> dict[str, Any]:
    preset = PRESETS.get(p.preset)
    return {
        "id": p.pk,
        "number_id": p.number_id,
        "number": p.number.e164 if p.number is not None else None,
        "preset": p.preset,
        "label": preset.label if preset else "Custom",
        "years": p.years,
        "days": p.days,
        "mode": p.mode,
        "retention_class": p.retention_class,
        "created_at": _iso(p.created_at),
        "updated_at": _iso(p.updated_at),
    }


def export_node(request: Request, job: ExportJob) -> dict[str, Any]:
    done = job.state == ExportJob.State.DONE
    return {
        "id": job.pk,
        "state": job.state,
        "format": job.format,
        "criteria": job.criteria,
        "total": job.total,
        "done": job.done,
        "progress": job.progress,
        "file_name": job.file_name,
        "size": job.size,
        "sha256": job.sha256,
        "error": job.error,
        "manifest": job.manifest or {},
        "requested_by": _staff(job.requested_by),
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
        "download_url": request.build_absolute_uri(f"{BASE}/exports/{job.pk}/download")
        if done
        else None,
    }


def report_node(r: VerificationReport) -> dict[str, Any]:
    return {
        "id": r.pk,
        "checked_at": _iso(r.checked_at),
        "ok": r.ok,
        "files_checked": r.files_checked,
        "records_checked": r.records_checked,
        "problems": [
            {
                "file_name": str(p.get("file_name", "")),
                "kind": str(p.get("kind", "")),
                "detail": str(p.get("detail", "")),
            }
            for p in (r.problems or [])
        ],
        "requested_by": _staff(r.requested_by),
    }


# -- authorisation and lookups ---------------------------------------------------------------


def acting_user(request: Request, needed: Capability) -> StaffUser:
    """Who acts: the signed-in staff member, or the token's creator, who must still be an
    active member of the business holding `needed`."""
    user = request.user
    if isinstance(user, StaffUser):
        return user
    assert isinstance(user, ApiClient)
    creator = user.token.created_by
    if (
        creator is None
        or not creator.is_active
        or creator.business_id != user.business.pk
        or not creator.can(needed)
    ):
        raise PermissionDenied(
            "(#10) This access token's creator is no longer an active member allowed to do "
            "this; create a new token."
        )
    return creator


def archive_permission(needed: Capability) -> type[BasePermission]:
    """`capability(needed)`, and a token only while its creator could do it themselves."""
    base = capability(needed)

    class ArchivePermission(base):  # type: ignore[valid-type,misc]
        def has_permission(self, request: Request, view: Any) -> bool:
            if not super().has_permission(request, view):
                return False
            if isinstance(request.user, ApiClient):
                acting_user(request, needed)
            return True

    return ArchivePermission


def _missing(what: str, raw: str) -> NotFound:
    return NotFound(f"Unsupported request. The {what} '{safe_text(raw, 40)}' does not exist.")


def _id(raw: str, what: str) -> int:
    if not re.fullmatch(ID_PATTERN, raw, flags=re.ASCII):
        raise _missing(what, raw)
    return int(raw)


def _hold(request: Request, hold_id: str) -> LegalHold:
    found = list_holds(business_of(request).pk).filter(pk=_id(hold_id, "legal hold")).first()
    if found is None:
        raise _missing("legal hold", hold_id)
    return found


def _export(request: Request, export_id: str) -> ExportJob:
    found = get_export(business_of(request).pk, _id(export_id, "export"))
    if found is None:
        raise _missing("export", export_id)
    return found


class Unreadable(Conflict):
    """A record in the index whose bytes cannot be read back as they were written."""


def _path_id(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.PATH, pattern=f"^{ID_PATTERN}$",
        description=description,
    )  # fmt: skip


def _query(
    name: str, description: str, *, max_length: int | None = None, **extra: Any
) -> OpenApiParameter:
    kind: Any = OpenApiTypes.STR
    if max_length is not None:
        kind = {"type": "string", "maxLength": max_length}
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, **extra)


RECORD_ID = _path_id("record_id", "The record's id (its `id` in a search).")
HOLD_ID = _path_id("hold_id", "The legal hold's id.")
EXPORT_ID = _path_id("export_id", "The export's id.")
_ID_QUERY = r"^[1-9][0-9]{0,17}$"
CRITERIA_PARAMETERS = [
    _query("customer", "The customer's number (E.164).", max_length=200),
    _query("agent", "The agent's staff user id.", pattern=_ID_QUERY),
    _query("number", "The business number's id.", pattern=_ID_QUERY),
    _query("conversation", "The conversation's id.", pattern=_ID_QUERY),
    _query("message_id", "A message id (wamid) or a record id.", max_length=200),
    _query("start", "At or after: an ISO 8601 date or time (UTC without an offset).",
           max_length=40),
    _query("end", "Before: an ISO 8601 date or time; a date alone means through that day.",
           max_length=40),
    _query("q", "Words in the text (case-insensitive).", max_length=200),
]  # fmt: skip
assert {p.name for p in CRITERIA_PARAMETERS} == set(CRITERIA)


# -- views -----------------------------------------------------------------------------------


# Staff sessions and tokens; each method names the capability it needs.
class ArchiveView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    pagination_class: ClassVar[type[BasePagination] | None] = None
    needs: ClassVar[dict[str, Capability]] = {"GET": VIEW}

    def get_permissions(self) -> Sequence[Any]:
        method = (self.request.method or "GET").upper()
        needed = self.needs.get("GET" if method in ("HEAD", "OPTIONS") else method)
        # ApiView answers 405 to a method the view lacks, before this; HEAD and OPTIONS
        # need GET's capability, or (where there is no GET) the view's first method's.
        return [archive_permission(needed or next(iter(self.needs.values())))()]


class NewestFirst(MetaCursorPagination):
    newest_first = True


class SummaryView(ArchiveView):
    needs = {"GET": STATUS}

    @extend_schema(
        operation_id="parley_v1_archive_summary",
        description=NEEDS[STATUS],
        summary="The archive at a glance: files by state, records and bytes stored",
        responses=ArchiveSummaryOut,
    )
    def get(self, request: Request) -> Response:
        return Response(summary_node(business_of(request).pk))


class FilesView(ArchiveView):
    needs = {"GET": STATUS}
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="parley_v1_archive_files_list",
        description=NEEDS[STATUS],
        summary="The archive's WARC files, newest first (metadata only)",
        parameters=[_query("state", "Only files in this state.", enum=FILE_STATES)],
        responses=ArchiveFileOut(many=True),
    )
    def get(self, request: Request) -> Response:
        state = query_text(request, "state", "|".join(FILE_STATES), hint="must be open, closed "
                           "or purged")  # fmt: skip
        files = list_files(business_of(request).pk)
        if state:
            files = files.filter(state=state)
        page, paginator = self.paginate(files, request)
        return paginator.get_paginated_response([file_node(f) for f in page])


class RecordsView(ArchiveView):
    pagination_class = MetaCursorPagination

    @extend_schema(
        operation_id="parley_v1_archive_records_search",
        description=NEEDS[VIEW],
        summary="Search the archive's record index, in the order records were archived",
        parameters=CRITERIA_PARAMETERS,
        responses=ArchiveRecordOut(many=True),
    )
    def get(self, request: Request) -> Response:
        criteria = _query_criteria(request)
        page, paginator = self.paginate(search_records(business_of(request).pk, criteria), request)
        return paginator.get_paginated_response([record_node(r) for r in page])


class RecordView(ArchiveView):
    error_statuses = (409,)  # the record's bytes cannot be read back

    @extend_schema(
        operation_id="parley_v1_archive_record_read",
        description=NEEDS[VIEW],
        summary="One record: its index fields, WARC headers and payload",
        parameters=[RECORD_ID],
        responses=ArchiveRecordDetailOut,
    )
    def get(self, request: Request, record_id: str) -> Response:
        record = get_record(business_of(request).pk, _id(record_id, "record"))
        if record is None:
            raise _missing("record", record_id)
        token = request.user if isinstance(request.user, ApiClient) else None
        try:
            view = do_read_record(
                record,
                actor=acting_user(request, VIEW),
                via=token.label if token else "",
                ip_address=client_address(request),
            )
        except ObjectMissing:
            raise Unreadable(
                f"(#100) The file of record {record.pk} is missing from the archive store; "
                "run a verification."
            ) from None
        except (ArchiveError, EOFError, zlib.error) as error:
            raise Unreadable(
                f"(#100) Record {record.pk} failed its integrity check ({safe_text(str(error))})"
                "; run a verification."
            ) from None
        body = record_node(record)
        body.update(
            file_name=record.file.name,
            file_state=record.file.state,
            offset=record.offset,
            headers=view.headers,
            payload=view.payload,
            payload_text=view.raw_payload if view.payload is None else None,
        )
        return Response(body)


class HoldsView(ArchiveView):
    needs = {"GET": VIEW, "POST": MANAGE}
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="parley_v1_archive_holds_list",
        description=NEEDS[VIEW],
        summary="Legal holds, newest first",
        responses=ArchiveHoldOut(many=True),
    )
    def get(self, request: Request) -> Response:
        page, paginator = self.paginate(list_holds(business_of(request).pk), request)
        return paginator.get_paginated_response([hold_node(h) for h in page])

    @extend_schema(
        operation_id="parley_v1_archive_holds_place",
        description=NEEDS[MANAGE],
        summary="Place a legal hold: the files holding matching records are kept",
        request=ArchiveHoldIn,
        responses={201: ArchiveHoldOut},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ArchiveHoldIn, request)
        actor = acting_user(request, MANAGE)
        try:
            hold = do_place_hold(
                business_of(request).pk,
                name=data["name"],
                criteria=data["criteria"],
                reason=data.get("reason", ""),
                actor=actor,
            )
        except HoldError as error:
            raise InvalidParameter(f"(#100) Invalid parameter: {error}") from None
        return Response(hold_node(_hold(request, str(hold.pk))), status=201)


class HoldView(ArchiveView):
    @extend_schema(
        operation_id="parley_v1_archive_hold_read",
        description=NEEDS[VIEW],
        summary="One legal hold",
        parameters=[HOLD_ID],
        responses=ArchiveHoldOut,
    )
    def get(self, request: Request, hold_id: str) -> Response:
        return Response(hold_node(_hold(request, hold_id)))


class HoldReleaseView(ArchiveView):
    needs = {"POST": MANAGE}
    error_statuses = (409,)  # already released

    @extend_schema(
        operation_id="parley_v1_archive_hold_release",
        description=NEEDS[MANAGE],
        summary="Release a legal hold: its files resume their retention unless another "
        "hold keeps them",
        parameters=[HOLD_ID],
        request=ArchiveReleaseIn,
        responses=ArchiveHoldOut,
    )
    def post(self, request: Request, hold_id: str) -> Response:
        hold = _hold(request, hold_id)  # 404 before the body is judged
        data = self.valid(ArchiveReleaseIn, request)
        if hold.released_at is not None:
            raise Conflict(f"(#100) Legal hold {hold.pk} was already released.")
        try:
            do_release_hold(
                hold.business_id, hold.pk, reason=data["reason"], actor=acting_user(request, MANAGE)
            )
        except HoldError as error:
            if _hold(request, hold_id).released_at is not None:  # released meanwhile
                raise Conflict(f"(#100) Legal hold {hold.pk} was already released.") from None
            raise InvalidParameter(f"(#100) Invalid parameter: {error}") from None
        return Response(hold_node(_hold(request, hold_id)))


class PoliciesView(ArchiveView):
    needs = {"GET": STATUS, "POST": MANAGE}
    pagination_class = MetaCursorPagination

    @extend_schema(
        operation_id="parley_v1_archive_policies_list",
        description=NEEDS[STATUS],
        summary="Retention policies: the business's and its numbers' (without one, the "
        "default preset applies)",
        responses=ArchivePolicyOut(many=True),
    )
    def get(self, request: Request) -> Response:
        page, paginator = self.paginate(list_policies(business_of(request).pk), request)
        return paginator.get_paginated_response([policy_node(p) for p in page])

    @extend_schema(
        operation_id="parley_v1_archive_policies_set",
        description=NEEDS[MANAGE],
        summary="Set the business's (or one number's) retention policy; a longer period "
        "extends closed files, none is ever shortened",
        request=ArchivePolicyIn,
        responses=ArchivePolicyOut,
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ArchivePolicyIn, request)
        business_id = business_of(request).pk
        try:
            policy = do_set_retention_policy(
                business_id,
                preset=data["preset"],
                mode=data["mode"],
                actor=acting_user(request, MANAGE),
                number_id=data.get("number_id"),
                years=data.get("years"),
                days=data.get("days"),
            )
        except PolicyError as error:
            raise InvalidParameter(f"(#100) Invalid parameter: {error}") from None
        found = list_policies(business_id).get(pk=policy.pk)
        return Response(policy_node(found))


class PresetsView(ArchiveView):
    needs = {"GET": STATUS}

    @extend_schema(
        operation_id="parley_v1_archive_presets",
        description=NEEDS[STATUS],
        summary="The retention presets a policy may name",
        responses=ArchivePresetsOut,
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "data": [
                    {"key": p.key, "label": p.label, "years": p.years, "basis": p.basis}
                    for p in PRESETS.values()
                ],
                "custom": CUSTOM,
                "default": DEFAULT_PRESET,
                "max_years": MAX_YEARS,
            }
        )


class ExportsView(ArchiveView):
    needs = {"GET": VIEW, "POST": VIEW}
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="parley_v1_archive_exports_list",
        description=NEEDS[VIEW],
        summary="Export jobs, newest first",
        responses=ArchiveExportOut(many=True),
    )
    def get(self, request: Request) -> Response:
        page, paginator = self.paginate(list_exports(business_of(request).pk), request)
        return paginator.get_paginated_response([export_node(request, j) for j in page])

    @extend_schema(
        operation_id="parley_v1_archive_exports_request",
        description=NEEDS[VIEW],
        summary="Export the records criteria select, as WARC or WACZ (a background job)",
        request=ArchiveExportIn,
        responses={201: ArchiveExportOut},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ArchiveExportIn, request)
        try:
            job = do_request_export(
                business_of(request).pk,
                criteria=data.get("criteria") or Criteria(),
                format=data.get("format", "warc"),
                actor=acting_user(request, VIEW),
            )
        except ExportError as error:
            raise InvalidParameter(f"(#100) Invalid parameter: {error}") from None
        return Response(export_node(request, _export(request, str(job.pk))), status=201)


class ExportView(ArchiveView):
    @extend_schema(
        operation_id="parley_v1_archive_export_read",
        description=NEEDS[VIEW],
        summary="One export: state, progress and, once done, its manifest",
        parameters=[EXPORT_ID],
        responses=ArchiveExportOut,
    )
    def get(self, request: Request, export_id: str) -> Response:
        return Response(export_node(request, _export(request, export_id)))


class ExportDownloadView(ArchiveView):
    error_statuses = (409,)  # not done yet, or its file is gone

    @extend_schema(
        operation_id="parley_v1_archive_export_download",
        description=NEEDS[VIEW],
        summary="Download a finished export (WARC: application/warc, gzip per record; "
        "WACZ: application/zip); every download is audited",
        parameters=[EXPORT_ID],
        responses={
            (200, "application/warc"): OpenApiTypes.BINARY,
            (200, "application/zip"): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, export_id: str) -> FileResponse:
        job = _export(request, export_id)
        if job.state != ExportJob.State.DONE:
            raise Conflict(f"(#100) Export {job.pk} is {job.state}; download it once it is done.")
        token = request.user if isinstance(request.user, ApiClient) else None
        try:
            if request.method == "GET":
                handle = do_download_export(
                    job,
                    actor=acting_user(request, VIEW),
                    via=token.label if token else "",
                    ip_address=client_address(request),
                )
            else:
                handle = open_export(job)
        except OSError:
            raise Conflict(
                f"(#100) The file of export {job.pk} is no longer stored; request it again."
            ) from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=job.file_name,
            content_type=CONTENT_TYPES[ExportJob.Format(job.format)],
        )
        if job.sha256:
            # RFC 9530: what the whole file hashes to, for the client to check.
            digest = base64.b64encode(bytes.fromhex(job.sha256)).decode()
            response["Repr-Digest"] = f"sha-256=:{digest}:"
        return response


class VerificationsView(ArchiveView):
    needs = {"GET": STATUS, "POST": STATUS}
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="parley_v1_archive_verifications_list",
        description=NEEDS[STATUS],
        summary="Verification reports, newest first",
        responses=ArchiveReportOut(many=True),
    )
    def get(self, request: Request) -> Response:
        rows = list_reports(business_of(request).pk).select_related("requested_by")
        page, paginator = self.paginate(rows, request)
        return paginator.get_paginated_response([report_node(r) for r in page])

    @extend_schema(
        operation_id="parley_v1_archive_verifications_run",
        description=NEEDS[STATUS],
        summary="Verify the archive now (every closed file against its manifest, the chain "
        "and its signed digests); the report",
        request=None,
        responses={201: ArchiveReportOut},
    )
    def post(self, request: Request) -> Response:
        report = do_verify_archive(
            business_of(request).pk, requested_by=acting_user(request, STATUS)
        )
        return Response(report_node(report), status=201)
