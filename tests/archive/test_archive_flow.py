"""The archive end to end on the real database and the durable stream: customers write in
and the business answers through the messaging actions, the `archive` consumer captures
every message and status, files close into a local store under the test's directory,
`verify_archive` names what was tampered with, and retention and legal holds run on the
simulation clock across years."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from warcio.archiveiterator import ArchiveIterator

from archive.actions.capture import do_capture
from archive.actions.exports import do_request_export, do_run_export, open_export
from archive.actions.files import do_roll_files, do_sign_digests
from archive.actions.holds import do_place_hold, do_release_hold
from archive.actions.retention import do_purge_expired, do_set_retention_policy
from archive.actions.verify import do_verify_archive
from archive.models import ArchiveFile, ArchiveRecord, Digest, Manifest
from archive.selectors import Criteria, record_member, search_records, view_record
from archive.storage import RetentionLocked, S3Store, get_store
from archive.warc.reader import iter_records, read_member
from archive.warc.wacz import read_wacz
from parley.accounts.models import AuditEntry, PhoneNumber, StaffUser
from parley.core import clock
from parley.core.events import MessageReceived
from parley.core.stream.runner import run_consumers
from parley.messaging.actions import do_record_inbound_message, do_send_message
from parley.messaging.content import Text
from tests.archive.conftest import CREDENTIALS

pytestmark = pytest.mark.django_db

ALICE, BOB = "+919820240001", "+919820240002"


@pytest.fixture
def store_root(settings: Any, tmp_path: Path) -> Path:
    settings.PARLEY = {**settings.PARLEY, "ARCHIVE_ROOT": str(tmp_path / "store")}
    return tmp_path / "store"


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Ledger", country="IN")
    return PhoneNumber.objects.create(
        business=business,
        e164="+919820249999",
        country="IN",
        display_name="Ledger",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


@pytest.fixture
def officer(factory: Any, number: PhoneNumber) -> StaffUser:
    return factory.staff(number.business, "compliance_officer")


def write(number: PhoneNumber, customer: str, text: str) -> str:
    message = do_record_inbound_message(
        number, customer, Text(body=text), envelope_guid=str(uuid.uuid4())
    )
    return message.wamid


def answer(number: PhoneNumber, customer: str, text: str) -> str:
    return do_send_message(number, customer, Text(body=text), deliver=False).wamid


def consume() -> None:
    assert run_consumers(max_seconds=60, names=["archive"])


def conversation(number: PhoneNumber) -> dict[str, str]:
    ids = {
        "hello": write(number, ALICE, "Hello, is my order 4411 on its way?"),
        "reply": answer(number, ALICE, "Yes: it ships today."),
        "bob": write(number, BOB, "Bonjour — ça marche ? ✓"),
    }
    consume()
    return ids


def test_every_message_becomes_a_record_once(
    store_root: Path, frozen_clock: Any, number: PhoneNumber
) -> None:
    ids = conversation(number)
    business = number.business_id
    messages = ArchiveRecord.objects.filter(business_id=business, fact="message")
    assert {r.message_id: r.direction for r in messages} == {
        ids["hello"]: "inbound", ids["reply"]: "outbound", ids["bob"]: "inbound",
    }  # fmt: skip
    # The outbound message's first status (accepted) is in the resource; a later one is a
    # metadata record that refers back to it.
    reply = messages.get(message_id=ids["reply"])
    view = view_record(reply)
    assert view.payload["content"]["body"] == "Yes: it ships today."
    assert view.headers["WARC-Type"] == "resource"
    # A batch delivered twice writes nothing twice.
    event = MessageReceived(
        business_id=business, occurred_at=clock.now(), message_id=ids["hello"],
        conversation_id=reply.conversation_id or 0, number_id=number.pk, customer=ALICE,
        content_type="text", content_json='{"type": "text", "body": "again"}', text="again",
    )  # fmt: skip
    before = ArchiveRecord.objects.count()
    do_capture([event, event], now=clock.now())
    assert ArchiveRecord.objects.count() == before
    # Search by keyword, customer and message id.
    assert [r.message_id for r in search_records(business, Criteria(q="order 4411"))] == [
        ids["hello"]
    ]
    assert {r.customer for r in search_records(business, Criteria(customer=BOB))} == {BOB}


def test_closed_files_verify_and_tampering_is_named(
    store_root: Path, frozen_clock: Any, number: PhoneNumber, capsys: Any
) -> None:
    ids = conversation(number)
    assert do_roll_files(force=True) == 1
    assert do_sign_digests() == 1
    file = ArchiveFile.objects.get(business=number.business)
    assert file.state == "closed" and file.retain_until is not None
    data = (store_root / file.name).read_bytes()
    # A WARC/1.1 file: a warcinfo, then the records, each its own gzip member.
    types = [r.rec_headers.get_header("WARC-Type") for r in ArchiveIterator(io.BytesIO(data))]
    assert types[0] == "warcinfo" and types.count("resource") == 3
    assert gzip.decompress(data).startswith(b"WARC/1.1")
    # Reading a record from the closed file by its offset.
    record = ArchiveRecord.objects.get(message_id=ids["bob"], fact="message")
    assert record.member is None and record.offset is not None
    assert view_record(record).payload["content"]["body"] == "Bonjour — ça marche ? ✓"
    assert do_verify_archive(number.business_id).ok

    path = store_root / file.name
    path.chmod(0o644)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(flipped))
    report = do_verify_archive(number.business_id)
    assert not report.ok and {(p["kind"], p["file_name"]) for p in report.problems} >= {
        ("modified", file.name)
    }
    path.write_bytes(data[:-40])
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_archive", business=number.business_id)
    assert exit_.value.code == 1
    assert f"TRUNCATED {file.name}" in capsys.readouterr().out
    path.unlink()
    kinds = {p["kind"] for p in do_verify_archive(number.business_id).problems}
    assert "missing" in kinds
    path.write_bytes(data)
    assert do_verify_archive(number.business_id).ok


def test_a_forged_manifest_or_digest_breaks_the_chain(
    store_root: Path, frozen_clock: Any, number: PhoneNumber
) -> None:
    conversation(number)
    do_roll_files(force=True)
    do_sign_digests()
    write(number, ALICE, "And a second file")
    consume()
    do_roll_files(force=True)
    do_sign_digests()
    assert Manifest.objects.filter(business=number.business).count() == 2
    assert do_verify_archive(number.business_id).ok
    first = Manifest.objects.get(business=number.business, seq=1)
    first.body = {**first.body, "record_count": 99}
    first.save()
    problems = do_verify_archive(number.business_id).problems
    assert any(p["kind"] == "chain_broken" for p in problems)
    first.body = {**first.body, "record_count": 3}
    first.save()
    digest = Digest.objects.filter(business=number.business).order_by("seq").last()
    assert digest is not None
    digest.body = {**digest.body, "manifest_count": 1}
    digest.save()
    kinds = {p["kind"] for p in do_verify_archive(number.business_id).problems}
    assert "signature_invalid" in kinds


def test_retention_and_holds_on_the_simulation_clock(
    store_root: Path, frozen_clock: Any, number: PhoneNumber, officer: StaffUser
) -> None:
    business = number.business_id
    do_set_retention_policy(business, preset="sec-17a-4", mode="GOVERNANCE", actor=officer)
    conversation(number)
    do_roll_files(force=True)
    file = ArchiveFile.objects.get(business_id=business)
    assert file.retain_until is not None
    assert file.retain_until - clock.now() > dt.timedelta(days=3 * 365 - 1)
    hold = do_place_hold(
        business, name="Case 7", criteria=Criteria(customer=BOB), reason="litigation",
        actor=officer,
    )  # fmt: skip
    file.refresh_from_db()
    assert file.legal_hold
    assert get_store().head(file.name).legal_hold

    frozen_clock.set(file.retain_until + dt.timedelta(days=1))
    assert do_purge_expired() == 0  # the hold keeps it, past its retention
    assert (store_root / file.name).exists()
    do_release_hold(business, hold.pk, reason="case closed", actor=officer)
    assert do_purge_expired() == 1
    file.refresh_from_db()
    assert file.state == "purged" and not (store_root / file.name).exists()
    assert not ArchiveRecord.objects.filter(file=file).exists()
    # The manifest stays, so the chain still verifies after the purge.
    assert do_verify_archive(business).ok
    actions = set(AuditEntry.objects.filter(business_ref=business).values_list("action", flat=True))
    assert {"archive.policy_set", "archive.hold_placed", "archive.hold_released",
            "archive.file_purged"} <= actions  # fmt: skip


def test_compliance_retention_is_never_shortened(
    store_root: Path, frozen_clock: Any, number: PhoneNumber, officer: StaffUser
) -> None:
    business = number.business_id
    do_set_retention_policy(business, preset="mifid-ii", mode="COMPLIANCE", actor=officer)
    conversation(number)
    do_roll_files(force=True)
    file = ArchiveFile.objects.get(business_id=business)
    kept = file.retain_until
    assert kept is not None
    # Shortening the policy leaves closed files as they are; lengthening extends them.
    do_set_retention_policy(business, preset="sec-17a-4", mode="COMPLIANCE", actor=officer)
    file.refresh_from_db()
    assert file.retain_until == kept
    with pytest.raises(RetentionLocked):
        get_store().extend_retention(
            file.name, kept - dt.timedelta(days=365), "COMPLIANCE", now=clock.now()
        )
    with pytest.raises(RetentionLocked):
        get_store().delete(file.name, now=clock.now(), bypass_governance=True)
    do_set_retention_policy(business, preset="mifid-ii-extended", mode="COMPLIANCE", actor=officer)
    file.refresh_from_db()
    assert file.retain_until is not None and file.retain_until > kept
    assert get_store().head(file.name).retain_until == file.retain_until
    frozen_clock.set(kept + dt.timedelta(days=1))
    assert do_purge_expired() == 0  # seven years now, not five


def test_records_wait_in_open_files_until_the_archiver_closes_them(
    store_root: Path, frozen_clock: Any, number: PhoneNumber
) -> None:
    conversation(number)
    assert do_roll_files() == 0  # not yet due
    frozen_clock.advance(hours=2)
    assert do_roll_files() == 1  # older than the age bound
    # The next month's records start a new file; the old period's file closes.
    write(number, ALICE, "later")
    consume()
    frozen_clock.set(dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=dt.UTC))
    assert do_roll_files() == 1
    periods = sorted(ArchiveFile.objects.values_list("period", flat=True))
    assert periods == ["2026-03", "2026-03"]
    payload = json.loads(view_record(ArchiveRecord.objects.get(text="later")).raw_payload)
    assert payload["customer"] == ALICE


def test_on_s3_object_lock_holds_and_purges_follow_the_simulation_clock(
    settings: Any, moto_endpoint: str, frozen_clock: Any, number: PhoneNumber,
    officer: StaffUser,
) -> None:  # fmt: skip
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    settings.PARLEY = {
        **settings.PARLEY, "ARCHIVE_STORE": "s3", "ARCHIVE_S3_BUCKET": bucket,
        "ARCHIVE_S3_ENDPOINT_URL": moto_endpoint, "ARCHIVE_S3_REGION": "us-east-1",
        "ARCHIVE_S3_ACCESS_KEY_ID": CREDENTIALS["access_key"],
        "ARCHIVE_S3_SECRET_ACCESS_KEY": CREDENTIALS["secret_key"],
    }  # fmt: skip
    store = get_store()
    assert isinstance(store, S3Store)
    store.ensure_bucket()
    business = number.business_id
    do_set_retention_policy(business, preset="sec-17a-4", mode="GOVERNANCE", actor=officer)
    conversation(number)
    do_roll_files(force=True)
    file = ArchiveFile.objects.get(business_id=business)
    info = store.head(file.name)
    assert (info.mode, info.retain_until) == ("GOVERNANCE", file.retain_until)
    # Records are read back from the object by their offsets.
    record = ArchiveRecord.objects.filter(file=file, fact="message").first()
    assert record is not None and view_record(record).payload["customer"] in (ALICE, BOB)
    hold = do_place_hold(
        business, name="Case 9", criteria=Criteria(q="order"), reason="inquiry", actor=officer
    )
    assert store.head(file.name).legal_hold
    assert file.retain_until is not None
    frozen_clock.set(file.retain_until + dt.timedelta(days=1))
    assert do_purge_expired() == 0
    do_release_hold(business, hold.pk, reason="done", actor=officer)
    assert not store.head(file.name).legal_hold
    assert do_purge_expired() == 1
    assert not store.exists(file.name)
    assert do_verify_archive(business).ok


def test_an_export_reimports_record_for_record(
    store_root: Path, frozen_clock: Any, number: PhoneNumber, officer: StaffUser
) -> None:
    conversation(number)
    do_roll_files(force=True)
    write(number, ALICE, "still open")  # one record from an open file too
    consume()
    job = do_request_export(
        number.business_id, criteria=Criteria(customer=ALICE), format="wacz", actor=officer
    )
    done = do_run_export(job.pk)
    assert done is not None and done.state == "done" and done.progress == 100
    with open_export(done) as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == done.sha256 == done.manifest["sha256"]
    warcs = read_wacz(io.BytesIO(data))
    assert len(warcs) == 1
    records = list(iter_records(io.BytesIO(warcs[0][1])))
    expected = list(search_records(number.business_id, Criteria(customer=ALICE)))
    assert [r.record_id for r in records if r.kind != "warcinfo"] == [e.record_id for e in expected]
    by_id = {r.record_id: r for r in records}
    for e in expected:
        assert by_id[e.record_id].payload == read_member(record_member(e)).payload
    assert done.manifest["record_count"] == len(expected)


def _checker(*args: str | Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / str(args[0])), *map(str, args[1:])]
    if args[0] == "gzip":
        command[0] = "gzip"
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_exports_pass_the_independent_checkers(
    store_root: Path, frozen_clock: Any, number: PhoneNumber, officer: StaffUser, tmp_path: Path
) -> None:
    conversation(number)
    do_roll_files(force=True)
    for format in ("warc", "wacz"):
        job = do_request_export(
            number.business_id, criteria=Criteria(), format=format, actor=officer
        )
        done = do_run_export(job.pk)
        assert done is not None and done.state == "done"
        path = tmp_path / done.file_name
        with open_export(done) as handle:
            path.write_bytes(handle.read())
        if format == "wacz":
            result = _checker("wacz", "validate", "-f", path)
            assert result.returncode == 0, result.stdout + result.stderr
            continue
        for command in (
            ("gzip", "-t", path),
            ("warcio", "check", "-v", path),
            ("fastwarc", "check", "--verify-payloads", path),
        ):
            result = _checker(*command)
            assert result.returncode == 0, (command, result.stdout + result.stderr)
        verified = _checker("fastwarc", "check", "--verify-payloads", path).stdout
        assert "skipped" not in verified


@pytest.mark.django_db(transaction=True)
def test_two_writers_opening_a_group_at_once_share_one_file(factory: Any) -> None:
    """One open file a group, even when a second writer tries to open it while the first
    has not committed yet: the second waits, then takes the first one's file."""
    import threading

    from django.db import connection, connections, transaction

    from archive.actions.capture import DEFAULT_POLICY, _open_file
    from archive.models import ArchiveFile

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    business = factory.business("Race")
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    first_in = threading.Event()
    opened: dict[str, int] = {}
    problems: list[BaseException] = []

    def waiting_for_the_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return bool(cursor.fetchone()[0])

    def first() -> None:
        try:
            with transaction.atomic():
                opened["first"] = _open_file(business.pk, DEFAULT_POLICY, "2026-03", now).pk
                first_in.set()
                for _ in range(500):  # until the second writer waits on our row
                    if waiting_for_the_lock():
                        break
                    threading.Event().wait(0.02)
        except BaseException as exc:  # reported below
            problems.append(exc)
        finally:
            first_in.set()
            connections.close_all()

    def second() -> None:
        try:
            first_in.wait(30)
            with transaction.atomic():
                opened["second"] = _open_file(business.pk, DEFAULT_POLICY, "2026-03", now).pk
        except BaseException as exc:  # reported below
            problems.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert problems == []
    assert opened["first"] == opened["second"]
    assert ArchiveFile.objects.filter(business_id=business.pk).count() == 1
