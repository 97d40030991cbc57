"""Verification: every closed file against its manifest (missing, truncated, modified, a
broken gzip stream, a wrong record count), the manifest chain link by link, and every
signed digest against the business's key and the chain. Purged files are expected to be
gone; their manifests still count in the chain."""

from __future__ import annotations

from django.db import transaction

from archive.actions.files import digest_of, manifest_of, public_key_of
from archive.models import ArchiveFile, Digest, Manifest, VerificationReport
from archive.storage import ObjectMissing, get_store
from archive.warc import manifest as manifests
from archive.warc.problems import Problem
from archive.warc.verify import check_file
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser
from parley.core import clock


def _check_digests(business_id: int, chain: list[Manifest]) -> list[Problem]:
    problems: list[Problem] = []
    key = public_key_of(business_id)
    previous = ""
    for row in Digest.objects.filter(business_id=business_id).order_by("seq"):
        digest = digest_of(row)
        name = f"digest {row.seq} of business {business_id}"
        if key is None or not manifests.verify_digest(key, digest, row.signature):
            problems.append(Problem(name, "signature_invalid", "its signature does not verify"))
        elif digest.previous_digest_signature != previous:
            problems.append(
                Problem(name, "chain_broken", "it does not follow the digest before it")
            )
        elif not (
            0 < digest.manifest_count <= len(chain)
            and chain[digest.manifest_count - 1].hash == digest.head_hash
        ):
            problems.append(
                Problem(name, "chain_broken", "the chain's head it signed is not in the chain")
            )
        previous = row.signature
    return problems


def do_verify_archive(
    business_id: int, *, requested_by: StaffUser | None = None
) -> VerificationReport:
    store = get_store()
    chain = list(Manifest.objects.filter(business_id=business_id).order_by("seq"))
    bodies = [manifest_of(m) for m in chain]
    problems: list[Problem] = list(manifests.check_chain(bodies))
    # A manifest row edited in the database no longer hashes to its stored hash.
    for row, body in zip(chain, bodies, strict=True):
        if body.hash() != row.hash:
            problems.append(Problem(body.file_name, "chain_broken", "its manifest was altered"))
    states = dict(
        ArchiveFile.objects.filter(pk__in=[m.file_id for m in chain]).values_list("pk", "state")
    )
    records = 0
    for row, body in zip(chain, bodies, strict=True):
        if states.get(row.file_id) == ArchiveFile.State.PURGED:
            continue
        try:
            data: bytes | None = store.get(body.file_name)
        except ObjectMissing:
            data = None
        problems.extend(check_file(body, data))
        records += body.record_count
    problems.extend(_check_digests(business_id, chain))
    with transaction.atomic():
        report = VerificationReport.objects.create(
            business_id=business_id,
            requested_by=requested_by,
            checked_at=clock.now(),
            files_checked=sum(1 for m in chain if states.get(m.file_id) != "purged"),
            records_checked=records,
            ok=not problems,
            problems=[
                {"file_name": p.file_name, "kind": p.kind, "detail": p.detail} for p in problems
            ],
        )
        do_record_audit(
            "archive.verified",
            business_id=business_id,
            actor=requested_by,
            actor_label="" if requested_by else "verify_archive",
            target=f"verification report {report.pk}",
            details={"ok": report.ok, "files": report.files_checked, "problems": len(problems)},
        )
    return report
