"""Closing files and signing the chain. A file is closed when it reaches its size or age
bound or its period ends: its warcinfo and records become one WARC file in the store
(write once, with its retain-until date and any legal hold), its manifest joins the
business's chain, and the records' offsets go into the index. Digests sign the chain's
head from time to time, as CloudTrail's digest files do."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io

from django.conf import settings
from django.db import transaction

from archive.models import ArchiveFile, ArchiveRecord, ChainHead, Digest, Manifest, SigningKey
from archive.retention import period_of, retain_until
from archive.selectors import held_file_ids
from archive.storage import ObjectExists, get_store
from archive.warc import manifest as manifests
from archive.warc.files import FileWriter, roll_due
from archive.warc.records import EncodedRecord
from parley.core import bulk, clock
from parley.core.crypto import decrypt_text, encrypt_text

PAGE = 2000


def _members(file: ArchiveFile) -> list[tuple[int, str, bytes]]:
    rows: list[tuple[int, str, bytes]] = []
    last = 0
    while True:
        page = list(
            ArchiveRecord.objects.filter(file=file, seq__gt=last)
            .order_by("seq")
            .values_list("pk", "record_id", "member", "seq")[:PAGE]
        )
        if not page:
            return rows
        rows.extend((pk, rid, bytes(member or b"")) for pk, rid, member, _ in page)
        last = page[-1][3]


def do_close_file(file_id: int, *, now: dt.datetime | None = None) -> ArchiveFile | None:
    """Write an open file to the store and chain its manifest; None if it was not open."""
    now = now or clock.now()
    with transaction.atomic():
        file = (
            ArchiveFile.objects.select_for_update()
            .filter(pk=file_id, state=ArchiveFile.State.OPEN)
            .first()
        )
        if file is None:
            return None
        members = _members(file)
        out = io.BytesIO()
        writer = FileWriter(
            out,
            file.name.rsplit("/", 1)[-1],
            opened_at=now,
            fields={
                "business": str(file.business_id),
                "retention-class": file.retention_class,
                "period": file.period,
                "records": str(len(members)),
            },
        )
        offsets = [
            (pk, writer.add(EncodedRecord(rid, member, "", len(member))))
            for pk, rid, member in members
        ]
        head, _ = ChainHead.objects.select_for_update().get_or_create(business_id=file.business_id)
        # The manifest names the file by its key in the store (the warcinfo by its name).
        body = dataclasses.replace(
            writer.close(closed_at=now, previous_hash=head.head_hash), file_name=file.name
        )
        data = out.getvalue()
        last_at = file.last_record_at or now
        file.retain_until = retain_until(
            last_at, years=file.retention_years, days=file.retention_days
        )
        file.legal_hold = file.pk in held_file_ids(file.business_id, [file.pk])
        store = get_store()
        try:
            store.put(file.name, data, retain_until=file.retain_until, mode=file.mode)  # type: ignore[arg-type]
        except ObjectExists:
            # Written by an earlier attempt whose transaction did not commit: the same bytes
            # are fine, anything else is a conflict to stop on.
            if hashlib.sha256(store.get(file.name)).hexdigest() != body.sha256:
                raise
        if file.legal_hold:
            store.set_legal_hold(file.name, True)
        bulk.update_rows(ArchiveRecord, ("offset",), offsets)
        ArchiveRecord.objects.filter(file=file).update(member=None)
        file.state, file.closed_at = ArchiveFile.State.CLOSED, now
        file.size, file.sha256, file.pending_bytes = body.size, body.sha256, 0
        file.save()
        digest = body.hash()
        Manifest.objects.create(
            business_id=file.business_id,
            file=file,
            seq=head.count + 1,
            body=_manifest_json(body),
            hash=digest,
        )
        head.count, head.head_hash = head.count + 1, digest
        head.save(update_fields=["count", "head_hash"])
    return file


def _manifest_json(body: manifests.Manifest) -> dict[str, object]:
    data = dataclasses.asdict(body)
    data["closed_at"] = body.closed_at.isoformat()
    return data


def manifest_of(row: Manifest) -> manifests.Manifest:
    data = dict(row.body)
    data["closed_at"] = dt.datetime.fromisoformat(str(data["closed_at"]))
    return manifests.Manifest(**data)


def do_roll_files(*, now: dt.datetime | None = None, force: bool = False) -> int:
    """Close the open files due: older than the age bound, past the size bound, or of a
    period that has ended (with `force`, every open file)."""
    now = now or clock.now()
    cfg = settings.PARLEY
    max_age = dt.timedelta(seconds=float(cfg["ARCHIVE_FILE_MAX_AGE_SECONDS"]))
    max_bytes = int(cfg["ARCHIVE_FILE_MAX_BYTES"])
    current = period_of(now)
    due = [
        pk
        for pk, opened_at, pending, period in ArchiveFile.objects.filter(
            state=ArchiveFile.State.OPEN
        ).values_list("pk", "opened_at", "pending_bytes", "period")
        if force or period < current or roll_due(pending, opened_at, now, max_bytes, max_age)
    ]
    closed = sum(1 for pk in due if do_close_file(pk, now=now) is not None)
    return closed


def _key_of(business_id: int, now: dt.datetime) -> tuple[bytes, bytes]:
    key = SigningKey.objects.filter(business_id=business_id).first()
    if key is None:
        private, public = manifests.new_signing_key()
        key = SigningKey.objects.create(
            business_id=business_id,
            public_key=public.hex(),
            private_key=encrypt_text(private.hex()),
            created_at=now,
        )
    return bytes.fromhex(decrypt_text(key.private_key)), bytes.fromhex(key.public_key)


def do_sign_digests(*, now: dt.datetime | None = None) -> int:
    """Sign a digest of each chain that grew since its last digest."""
    now = now or clock.now()
    signed = 0
    for business_id in ChainHead.objects.values_list("business_id", flat=True):
        with transaction.atomic():
            head = ChainHead.objects.select_for_update().get(business_id=business_id)
            if head.count == head.signed_count:
                continue
            private, _ = _key_of(business_id, now)
            last = Digest.objects.filter(business_id=business_id).order_by("-seq").first()
            body = manifests.Digest(
                chain=f"business-{business_id}",
                head_hash=head.head_hash,
                manifest_count=head.count,
                signed_at=now,
                previous_digest_signature=last.signature if last else "",
            )
            signature = manifests.sign_digest(private, body)
            data = dataclasses.asdict(body)
            data["signed_at"] = now.isoformat()
            Digest.objects.create(
                business_id=business_id,
                seq=(last.seq + 1) if last else 1,
                body=data,
                signature=signature,
            )
            head.signed_count = head.count
            head.save(update_fields=["signed_count"])
            signed += 1
    return signed


def digest_of(row: Digest) -> manifests.Digest:
    data = dict(row.body)
    data["signed_at"] = dt.datetime.fromisoformat(str(data["signed_at"]))
    return manifests.Digest(**data)


def public_key_of(business_id: int) -> bytes | None:
    key = SigningKey.objects.filter(business_id=business_id).first()
    return bytes.fromhex(key.public_key) if key else None
