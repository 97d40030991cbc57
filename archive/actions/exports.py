"""Exports: the records a search selects, copied byte for byte from the archive's files
into a new WARC (or a WACZ around it) with a manifest, as a background job whose progress
reaches the officer who asked live. Asking for one and its completion are audited."""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict

from celery import current_app
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction

from archive.models import ArchiveFile, ArchiveRecord, ExportJob
from archive.selectors import Criteria, search_records
from archive.storage import get_store
from archive.warc.files import FileWriter
from archive.warc.records import EncodedRecord
from archive.warc.wacz import build_wacz
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.events import ArchiveExportProgressed
from parley.core.publish import publish

MAX_RECORDS = 200_000
RUN_EXPORT = "archive.tasks.run_export"
# Above this many selected records of one file, read the whole file once.
WHOLE_FILE_AFTER = 16
PROGRESS_STEP = 500


class ExportError(ValueError):
    """The export cannot be made as asked; the message says why."""


def do_request_export(
    business_id: int, *, criteria: Criteria, format: str, actor: StaffUser
) -> ExportJob:
    if format not in ExportJob.Format.values:
        raise ExportError("Format must be warc or wacz.")
    total = search_records(business_id, criteria).count()
    if total == 0:
        raise ExportError("No archived records match these criteria.")
    if total > MAX_RECORDS:
        raise ExportError(f"Exports are limited to {MAX_RECORDS:,} records; narrow the search.")
    with transaction.atomic():
        job = ExportJob.objects.create(
            business_id=business_id,
            requested_by=actor,
            criteria=criteria.as_json(),
            format=format,
            total=total,
            created_at=clock.now(),
        )
        do_record_audit(
            "archive.export_requested",
            business_id=business_id,
            actor=actor,
            target=f"export {job.pk}",
            details={"criteria": job.criteria, "format": format, "records": total},
        )
        # By name: the task module imports this one.
        job_id = job.pk
        transaction.on_commit(lambda: current_app.send_task(RUN_EXPORT, args=[job_id]))
    return job


def _progress(job: ExportJob) -> None:
    ExportJob.objects.filter(pk=job.pk).update(state=job.state, done=job.done, total=job.total)
    publish(
        ArchiveExportProgressed(
            business_id=job.business_id,
            occurred_at=clock.now(),
            user_id=job.requested_by_id,
            job_id=job.pk,
            state=job.state,
            done=job.done,
            total=job.total,
            progress=job.progress,
        )
    )


def _members(records: list[ArchiveRecord]) -> dict[int, bytes]:
    """Each record's gzip member, reading a file whole when many of its records are wanted."""
    store = get_store()
    by_file: dict[int, list[ArchiveRecord]] = defaultdict(list)
    for r in records:
        by_file[r.file_id].append(r)
    names = dict(ArchiveFile.objects.filter(pk__in=list(by_file)).values_list("pk", "name"))
    out: dict[int, bytes] = {}
    for file_id, rows in by_file.items():
        open_rows = [r for r in rows if r.offset is None]
        if open_rows:
            blobs = dict(
                ArchiveRecord.objects.filter(pk__in=[r.pk for r in open_rows]).values_list(
                    "pk", "member"
                )
            )
            out.update({pk: bytes(m) for pk, m in blobs.items() if m is not None})
        closed = [r for r in rows if r.offset is not None]
        if len(closed) > WHOLE_FILE_AFTER:
            data = store.get(names[file_id])
            for r in closed:
                assert r.offset is not None
                out[r.pk] = data[r.offset : r.offset + r.length]
        else:
            for r in closed:
                assert r.offset is not None
                out[r.pk] = store.get_range(names[file_id], r.offset, r.length)
    return out


def do_run_export(job_id: int) -> ExportJob | None:
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None or job.state not in (ExportJob.State.QUEUED, ExportJob.State.RUNNING):
        return job
    job.state, job.done = ExportJob.State.RUNNING, 0
    try:
        records = list(
            search_records(job.business_id, Criteria.from_json(job.criteria)).only(
                "pk", "file_id", "record_id", "offset", "length"
            )
        )
        job.total = len(records)
        _progress(job)
        now = clock.now()
        stamp = now.strftime("%Y%m%d%H%M%S")
        warc_name = f"parley-export-{job.business_id}-{job.pk}-{stamp}.warc.gz"
        out = io.BytesIO()
        writer = FileWriter(
            out,
            warc_name,
            opened_at=now,
            fields={"export": str(job.pk), "business": str(job.business_id),
                    "records": str(len(records))},
        )  # fmt: skip
        for start in range(0, len(records), PROGRESS_STEP):
            chunk = records[start : start + PROGRESS_STEP]
            members = _members(chunk)
            for r in chunk:
                member = members[r.pk]
                writer.add(EncodedRecord(r.record_id, member, "", len(member)))
            job.done = start + len(chunk)
            if job.done < job.total:
                _progress(job)
        warc_manifest = writer.close(closed_at=now, previous_hash="")
        warc = out.getvalue()
        if job.format == ExportJob.Format.WACZ:
            wacz = io.BytesIO()
            build_wacz(
                wacz,
                [(warc_name, warc)],
                title=f"Parley archive export {job.pk}",
                created=now,
            )
            data, file_name = wacz.getvalue(), warc_name.replace(".warc.gz", ".wacz")
        else:
            data, file_name = warc, warc_name
        stored = default_storage.save(
            f"archive-exports/{job.business_id}/{job.pk}/{file_name}", ContentFile(data)
        )
        sha = hashlib.sha256(data).hexdigest()
        with transaction.atomic():
            job.state, job.done = ExportJob.State.DONE, job.total
            job.file_name, job.storage_name, job.size, job.sha256 = (
                file_name,
                stored,
                len(data),
                sha,
            )
            job.finished_at = clock.now()
            job.manifest = {
                "file_name": file_name,
                "sha256": sha,
                "size": len(data),
                "warc_sha256": warc_manifest.sha256,
                "record_count": len(records),
                "first_record_id": warc_manifest.first_record_id,
                "last_record_id": warc_manifest.last_record_id,
                "criteria": job.criteria,
                "created_at": job.finished_at.isoformat(),
            }
            job.save()
            _progress(job)
            do_record_audit(
                "archive.export_completed",
                business_id=job.business_id,
                actor=job.requested_by,
                target=f"export {job.pk}",
                details={"file": file_name, "sha256": sha, "records": len(records)},
            )
    except Exception as error:
        with transaction.atomic():
            job.state, job.error = ExportJob.State.FAILED, str(error)[:500]
            job.finished_at = clock.now()
            job.save(update_fields=["state", "error", "finished_at"])
            _progress(job)
        raise
    return job


def open_export(job: ExportJob) -> File:
    return default_storage.open(job.storage_name, "rb")


# What an export's file is served as: WARC/1.1 with one gzip member per record is still
# `application/warc` (ISO 28500 annex D), so no Content-Encoding that a client would undo
# before the checksum; a WACZ is a ZIP package (it has no registered type of its own).
CONTENT_TYPES = {
    ExportJob.Format.WARC: "application/warc",
    ExportJob.Format.WACZ: "application/zip",
}


def do_download_export(
    job: ExportJob,
    *,
    actor: StaffUser | None,
    via: str = "",
    ip_address: str | None = None,
) -> File:
    """Open a finished export's file for its download, which is audited (who, which file,
    through which token if any). Raises OSError when the file is no longer stored."""
    handle = open_export(job)
    do_record_audit(
        "archive.export_downloaded",
        business_id=job.business_id,
        actor=actor,
        target=f"export {job.pk}",
        details={"file": job.file_name, "sha256": job.sha256, **({"token": via} if via else {})},
        ip_address=ip_address,
    )
    return handle
