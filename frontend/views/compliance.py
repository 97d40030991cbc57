"""The compliance workspace: the archive's search and record viewer, exports with live
progress, legal holds, retention policies with the archive's files, and verification.

Compliance officers (VIEW_ARCHIVE, MANAGE_RETENTION) use all of it. Administrators
(VIEW_ARCHIVE_STATUS) see only what holds no content: retention (read-only), the files and
verification. Every view checks its capability on GET and POST alike; every id is looked up
within the signed-in user's business, so another business's id is not found. Every write is
one archive action, which audits itself; their errors land on the form."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from archive.actions.capture import DEFAULT_POLICY
from archive.actions.exports import (
    CONTENT_TYPES,
    ExportError,
    do_download_export,
    do_request_export,
)
from archive.actions.holds import HoldError, do_place_hold, do_release_hold
from archive.actions.reads import do_read_record
from archive.actions.retention import PolicyError, do_set_retention_policy
from archive.actions.verify import do_verify_archive
from archive.models import ArchiveRecord, ExportJob, LegalHold, RetentionMode, RetentionPolicy
from archive.retention import CUSTOM, DEFAULT_PRESET, PRESETS
from archive.selectors import (
    Criteria,
    CriteriaError,
    files_matching,
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
from frontend.access import console_view, live_page, staff
from frontend.compliance_forms import (
    MODE_LABELS,
    CriteriaForm,
    ExportForm,
    HoldForm,
    PolicyForm,
    ReleaseForm,
)
from frontend.views.common import error_page, forbidden, not_found, page_of
from parley.accounts.models import PhoneNumber, StaffUser
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_numbers, list_staff
from parley.core.errors import ParleyError
from parley.core.http import client_address

C = Capability
RELATED_LIMIT = 100
# The workspace's tabs: (key, label, url, capability to open it).
TABS: list[tuple[str, str, str, Capability]] = [
    ("search", "Search", "/compliance/", C.VIEW_ARCHIVE),
    ("exports", "Exports", "/compliance/exports/", C.VIEW_ARCHIVE),
    ("holds", "Legal holds", "/compliance/holds/", C.MANAGE_RETENTION),
    ("retention", "Retention & files", "/compliance/retention/", C.VIEW_ARCHIVE_STATUS),
    ("verification", "Verification", "/compliance/verification/", C.VIEW_ARCHIVE_STATUS),
    ("audit", "Audit log", "/audit/", C.VIEW_AUDIT_LOG),
]
CRITERIA_LABELS = {
    "customer": "Customer",
    "agent": "Agent",
    "number": "Number",
    "conversation": "Conversation",
    "message_id": "Message",
    "start": "From",
    "end": "Before",
    "q": "Keyword",
}


# -- shared pieces ---------------------------------------------------------------------------


def _tabs(user: StaffUser, current: str) -> list[dict[str, Any]]:
    return [
        {"label": label, "url": url, "active": key == current}
        for key, label, url, cap in TABS
        if user.can(cap)
    ]


@dataclasses.dataclass(frozen=True)
class Directory:
    """The business's staff and numbers, for selects and for naming ids in tables."""

    staff: list[StaffUser]
    numbers: list[PhoneNumber]

    @classmethod
    def of(cls, user: StaffUser) -> Directory:
        return cls(
            list(list_staff(user.business).order_by("full_name", "email")),
            list(list_numbers(user.business).order_by("e164")),
        )

    def staff_name(self, pk: int | None) -> str:
        for u in self.staff:
            if u.pk == pk:
                return u.full_name or u.email
        return "" if pk is None else f"staff #{pk}"

    def number_name(self, pk: int | None) -> str:
        for n in self.numbers:
            if n.pk == pk:
                return n.e164
        return "" if pk is None else f"number #{pk}"

    def describe(self, criteria: dict[str, Any]) -> list[tuple[str, str]]:
        """A hold's or an export's criteria as (label, value) pairs a person reads."""
        rows = []
        for key, label in CRITERIA_LABELS.items():
            value = criteria.get(key)
            if value in (None, ""):
                continue
            if key == "agent":
                value = self.staff_name(int(str(value)))
            elif key == "number":
                value = self.number_name(int(str(value)))
            elif key in ("start", "end"):
                value = str(value).replace("T", " ").replace("+00:00", " UTC")
            rows.append((label, str(value)))
        return rows


def _criteria_form(cls: type[CriteriaForm], data: Any, directory: Directory, **kwargs: Any) -> Any:
    return cls(data, staff=directory.staff, numbers=directory.numbers, **kwargs)


def _page(request: HttpRequest, template: str, tab: str, context: dict[str, Any]) -> HttpResponse:
    user = staff(request)
    return render(
        request,
        f"frontend/{template}",
        {
            "tabs": _tabs(user, tab),
            "can_search": user.can(C.VIEW_ARCHIVE),
            "can_manage": user.can(C.MANAGE_RETENTION),
            **context,
        },
    )


# -- search and records ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResultRow:
    record: ArchiveRecord
    agent: str
    number: str


@console_view(C.VIEW_ARCHIVE)
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    directory = Directory.of(user)
    searched = any(key in request.GET for key in CRITERIA_LABELS)
    form = _criteria_form(CriteriaForm, request.GET if searched else None, directory)
    criteria = form.criteria() if searched else None
    page, rows = None, []
    if criteria is not None:
        page = page_of(request, search_records(user.business_id, criteria))
        rows = [
            ResultRow(r, directory.staff_name(r.agent_user_id), directory.number_name(r.number_id))
            for r in page.object_list
        ]
    return _page(
        request,
        "compliance.html",
        "search",
        {
            "form": form,
            "searched": searched,
            "criteria": criteria,
            "page": page,
            "rows": rows,
            "carried": form.carried() if criteria is not None else [],
            "hold_form": HoldForm(staff=directory.staff, numbers=directory.numbers),
            "export_form": ExportForm(staff=directory.staff, numbers=directory.numbers),
        },
    )


@console_view(C.VIEW_ARCHIVE)
@require_GET
def record_detail(request: HttpRequest, record_id: str) -> HttpResponse:
    user = staff(request)
    record = get_record(user.business_id, int(record_id))
    if record is None:
        return not_found(request, ParleyError("No such archived record."))
    directory = Directory.of(user)
    read_error = ""
    headers: list[tuple[str, str]] = []
    payload = ""
    try:
        view = do_read_record(record, actor=user, ip_address=client_address(request))
    except (ParleyError, OSError, ValueError) as exc:
        # The file is missing or damaged in the store: say so (verification will too).
        read_error = str(exc) or exc.__class__.__name__
    else:
        headers = list(view.headers.items())
        payload = (
            json.dumps(view.payload, indent=2, ensure_ascii=False, sort_keys=True)
            if view.payload is not None
            else view.raw_payload
        )
    if record.conversation_id is not None:
        related_criteria = Criteria(conversation=record.conversation_id)
    elif record.message_id:
        related_criteria = Criteria(message_id=record.message_id)
    else:
        related_criteria = None
    related = (
        [
            ResultRow(r, directory.staff_name(r.agent_user_id), directory.number_name(r.number_id))
            for r in search_records(user.business_id, related_criteria).exclude(pk=record.pk)[
                :RELATED_LIMIT
            ]
        ]
        if related_criteria is not None
        else []
    )
    return _page(
        request,
        "compliance_record.html",
        "search",
        {
            "record": record,
            "headers": headers,
            "payload": payload,
            "read_error": read_error,
            "agent": directory.staff_name(record.agent_user_id),
            "number": directory.number_name(record.number_id),
            "related": related,
            "related_limit": RELATED_LIMIT,
        },
    )


# -- exports ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExportRow:
    job: ExportJob
    criteria: list[tuple[str, str]]
    manifest: str


def _export_rows(jobs: Any, directory: Directory) -> list[ExportRow]:
    return [
        ExportRow(
            job,
            directory.describe(job.criteria or {}),
            json.dumps(job.manifest, indent=2, sort_keys=True) if job.manifest else "",
        )
        for job in jobs
    ]


@console_view(C.VIEW_ARCHIVE)
@require_http_methods(["GET", "POST"])
@live_page
def exports(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    directory = Directory.of(user)
    form = _criteria_form(ExportForm, request.POST if request.method == "POST" else None, directory)
    if request.method == "POST":
        criteria = form.criteria()
        if criteria is not None:
            try:
                job = do_request_export(
                    user.business_id,
                    criteria=criteria,
                    format=form.cleaned_data["format"],
                    actor=user,
                )
            except (ExportError, CriteriaError, ParleyError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Export {job.pk} of {job.total} record(s) queued. It is prepared in the "
                    "background; this page follows it.",
                )
                return redirect(f"/compliance/exports/#export-{job.pk}")
    page = page_of(request, list_exports(user.business_id))
    context = {"page": page, "rows": _export_rows(page.object_list, directory)}
    if request.GET.get("part") == "jobs":
        return render(request, "frontend/_compliance_exports.html", context)
    return _page(request, "compliance_exports.html", "exports", {**context, "form": form})


@console_view(C.VIEW_ARCHIVE)
@require_GET
def export_download(request: HttpRequest, export_id: str) -> HttpResponseBase:
    user = staff(request)
    job = get_export(user.business_id, int(export_id))
    if job is None:
        return not_found(request, ParleyError("No such export."))
    if job.state != ExportJob.State.DONE:
        return error_page(
            request, 409, "Not ready", f"Export {job.pk} is {job.state}: it has no file yet."
        )
    try:
        handle = do_download_export(job, actor=user, ip_address=client_address(request))
    except OSError:
        return error_page(
            request, 410, "Gone", f"The file of export {job.pk} is no longer in storage."
        )
    return FileResponse(
        handle,
        as_attachment=True,
        filename=job.file_name,
        content_type=CONTENT_TYPES[ExportJob.Format(job.format)],
    )


# -- legal holds -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    criteria: list[tuple[str, str]]
    files: int


def _files_held(business_id: int, hold: LegalHold) -> int:
    """How many live files hold a record the hold matches."""
    try:
        criteria = Criteria.from_json(hold.criteria)
    except CriteriaError:
        return 0
    return files_matching(business_id, criteria).count()


def _holds_page(
    request: HttpRequest,
    directory: Directory,
    form: HoldForm,
    release: tuple[LegalHold, ReleaseForm] | None = None,
) -> HttpResponse:
    user = staff(request)
    rows = [
        HoldRow(
            h,
            directory.describe(h.criteria or {}),
            _files_held(user.business_id, h) if h.released_at is None else 0,
        )
        for h in list_holds(user.business_id)
    ]
    return _page(
        request,
        "compliance_holds.html",
        "holds",
        {
            "form": form,
            "active": [r for r in rows if r.hold.released_at is None],
            "released": [r for r in rows if r.hold.released_at is not None],
            "release_hold": release[0] if release else None,
            "release_form": release[1] if release else ReleaseForm(),
        },
    )


@console_view(C.MANAGE_RETENTION)
@require_http_methods(["GET", "POST"])
def holds(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    directory = Directory.of(user)
    form = _criteria_form(HoldForm, request.POST if request.method == "POST" else None, directory)
    if request.method == "POST":
        criteria = form.criteria()
        if criteria is not None:
            try:
                hold = do_place_hold(
                    user.business_id,
                    name=form.cleaned_data["name"],
                    criteria=criteria,
                    reason=form.cleaned_data["reason"],
                    actor=user,
                )
            except (HoldError, CriteriaError, ParleyError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Legal hold “{hold.name}” placed: "
                    f"{_files_held(user.business_id, hold)} file(s) are kept until it is "
                    "released.",
                )
                return redirect(f"/compliance/holds/#hold-{hold.pk}")
    return _holds_page(request, directory, form)


@console_view(C.MANAGE_RETENTION)
@require_POST
def hold_release(request: HttpRequest, hold_id: str) -> HttpResponse:
    user = staff(request)
    hold = list_holds(user.business_id).filter(pk=int(hold_id)).first()
    if hold is None:
        return not_found(request, ParleyError("No such legal hold."))
    directory = Directory.of(user)
    form = ReleaseForm(request.POST)
    if form.is_valid():
        try:
            do_release_hold(
                user.business_id, hold.pk, reason=form.cleaned_data["reason"], actor=user
            )
        except (HoldError, ParleyError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Legal hold “{hold.name}” released.")
            return redirect(f"/compliance/holds/#hold-{hold.pk}")
    blank = _criteria_form(HoldForm, None, directory)
    return _holds_page(request, directory, blank, release=(hold, form))


# -- retention and files ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PolicyRow:
    applies_to: str
    preset: str
    basis: str
    period: str
    mode: str
    mode_label: str
    updated_at: Any
    built_in: bool = False


def _period(years: int, days: int) -> str:
    parts = [f"{years} year{'s' if years != 1 else ''}"] if years else []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    return " and ".join(parts) or "0 days"


def _applies_to(policy: RetentionPolicy) -> str:
    return policy.number.e164 if policy.number is not None else "The business (default)"


def _policy_rows(business_id: int) -> list[PolicyRow]:
    rows: list[PolicyRow] = []
    policies = list(list_policies(business_id))
    default = next((p for p in policies if p.number_id is None), None)
    if default is None:
        known = PRESETS[DEFAULT_PRESET]
        rows.append(
            PolicyRow(
                "The business (built-in default)",
                known.label,
                known.basis,
                _period(DEFAULT_POLICY.years, DEFAULT_POLICY.days),
                DEFAULT_POLICY.mode,
                MODE_LABELS[DEFAULT_POLICY.mode],
                None,
                built_in=True,
            )
        )
    ordered = ([default] if default else []) + sorted(
        (p for p in policies if p.number is not None), key=_applies_to
    )
    for p in ordered:
        preset = PRESETS.get(p.preset)
        rows.append(
            PolicyRow(
                _applies_to(p),
                preset.label if preset else ("Custom" if p.preset == CUSTOM else p.preset),
                preset.basis if preset else "",
                _period(p.years, p.days),
                p.mode,
                MODE_LABELS.get(p.mode, p.mode),
                p.updated_at,
            )
        )
    return rows


@console_view(C.VIEW_ARCHIVE_STATUS)
@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    can_manage = user.can(C.MANAGE_RETENTION)
    if request.method == "POST" and not can_manage:
        return forbidden(request)
    numbers = list(list_numbers(user.business).order_by("e164"))
    form = PolicyForm(
        request.POST if request.method == "POST" else None,
        numbers=numbers,
        initial={"mode": RetentionMode.COMPLIANCE.value},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        custom = data["preset"] == CUSTOM
        try:
            policy = do_set_retention_policy(
                user.business_id,
                preset=data["preset"],
                mode=data["mode"],
                actor=user,
                number_id=data["number"],
                years=data["years"] if custom else None,
                days=data["days"] if custom else None,
            )
        except PolicyError as exc:
            form.add_error(_policy_field(str(exc)), str(exc))
        except ParleyError as exc:  # the store refused (unreachable, locked)
            form.add_error(None, exc.message)
        else:
            where = policy.number.e164 if policy.number is not None else "the business"
            messages.success(
                request,
                f"Retention for {where}: {_period(policy.years, policy.days)}, "
                f"{policy.mode.lower()} mode. Files closed from now on follow it.",
            )
            return redirect("/compliance/retention/")
    page = page_of(request, list_files(user.business_id))
    return _page(
        request,
        "compliance_retention.html",
        "retention",
        {
            "policies": _policy_rows(user.business_id),
            "presets": list(PRESETS.values()),
            "form": form if can_manage else None,
            "summary": summary(user.business_id),
            "page": page,
        },
    )


def _policy_field(message: str) -> str | None:
    lowered = message.lower()
    for word, field in (("preset", "preset"), ("mode", "mode"), ("phone number", "number")):
        if word in lowered:
            return field
    if "years" in lowered or "days" in lowered or "period" in lowered:
        return "years"
    return None


# -- verification ----------------------------------------------------------------------------


@console_view(C.VIEW_ARCHIVE_STATUS)
@require_http_methods(["GET", "POST"])
def verification(request: HttpRequest) -> HttpResponse:
    """Past reports; POST runs a verification now (metadata only: which files fail their
    manifest, the chain or the signed digests, never what the files hold)."""
    user = staff(request)
    if request.method == "POST":
        try:
            report = do_verify_archive(user.business_id, requested_by=user)
        except ParleyError as exc:  # the store is unreachable: nothing was checked
            messages.error(request, f"Verification could not run: {exc.message}")
            return redirect("/compliance/verification/")
        if report.ok:
            messages.success(
                request,
                f"Archive verified: {report.files_checked} file(s), "
                f"{report.records_checked} record(s), no problems.",
            )
        else:
            messages.error(
                request,
                f"Verification found {len(report.problems)} problem(s) in "
                f"{report.files_checked} file(s): see the report below.",
            )
        return redirect(f"/compliance/verification/#report-{report.pk}")
    page = page_of(request, list_reports(user.business_id).select_related("requested_by"))
    return _page(request, "compliance_verification.html", "verification", {"page": page})
