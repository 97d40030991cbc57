"""The ``database`` section of bench/archive.py: the archive end to end on the configured
database (PostgreSQL in the production path), through the real path: customers' messages
are recorded by messaging's action (which publishes ``message.received`` on the durable
stream), then the ``archive`` stream consumer turns each into a WARC record (gzip member,
SHA-256 digest, index row), the files are closed into the local store with their
manifests, and an export job copies every record into a WACZ.

Setup (untimed): one business, one number, M customers' messages already in the stream.
Timed, each on its own: the consumer from its first batch until every event is archived
(records/s), closing the files (records/s), and the export job (records/s). The baseline,
in the same run, is plain warcio (``WARCWriter(gzip=True)``, WARC/1.1) writing the same
messages' payloads to a file on one core: what a record costs with no database at all."""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from typing import Any


def _setup(messages: int) -> Any:
    from parley.accounts.models import Business, PhoneNumber
    from parley.core import clock
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.content import Text

    stamp = uuid.uuid4().hex[:8]
    business = Business.objects.create(
        name=f"Archive bench {stamp}", slug=f"archive-{stamp}", country="IN",
        created_at=clock.now(),
    )  # fmt: skip
    number = PhoneNumber.objects.create(
        business=business, e164=f"+91982{int(stamp, 16) % 10**7:07d}", country="IN",
        display_name="Bench", code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    for i in range(messages):
        do_record_inbound_message(
            number,
            f"+9198203{i % 50_000:05d}",
            Text(body=f"Message {i}: where is my order {i * 7919 % 100_000}? " * 3),
            envelope_guid=str(uuid.uuid4()),
        )
    return number


def _baseline(payloads: list[bytes]) -> float:
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    started = time.perf_counter()
    for i, payload in enumerate(payloads):
        record = writer.create_warc_record(
            f"urn:parley:message:{i}", "resource", payload=io.BytesIO(payload),
            warc_content_type="application/json", length=len(payload),
        )  # fmt: skip
        writer.write_record(record)
    return len(payloads) / (time.perf_counter() - started)


def run(messages: int) -> dict[str, float]:
    from archive.actions.exports import do_run_export
    from archive.actions.files import do_roll_files
    from archive.models import ArchiveRecord, ExportJob
    from archive.selectors import record_member
    from archive.warc.reader import read_member
    from parley.core import clock
    from parley.core.stream.runner import run_consumers

    # Whatever the stream holds before this run is archived first, untimed.
    run_consumers(max_seconds=600, names=["archive"])
    number = _setup(messages)
    business = number.business_id
    started = time.perf_counter()
    assert run_consumers(max_seconds=600, names=["archive"])
    capture_s = time.perf_counter() - started
    records = ArchiveRecord.objects.filter(business_id=business).count()
    sample = list(ArchiveRecord.objects.filter(business_id=business)[:2000])
    payloads = [read_member(record_member(r)).payload for r in sample]
    payloads = (payloads * (records // max(1, len(payloads)) + 1))[:records]

    started = time.perf_counter()
    do_roll_files(force=True)
    close_s = time.perf_counter() - started

    job = ExportJob.objects.create(
        business_id=business, criteria={}, format="wacz", total=records,
        created_at=clock.now(),
    )  # fmt: skip
    started = time.perf_counter()
    finished = do_run_export(job.pk)
    export_s = time.perf_counter() - started
    assert finished is not None and finished.state == "done", finished and finished.error
    return {
        "records": records,
        "capture": records / capture_s,
        "close": records / close_s,
        "export": records / export_s,
        "baseline": _baseline(payloads),
    }


def section_database(args: argparse.Namespace) -> None:
    from bench.bootstrap import setup_django

    os.environ.setdefault("PARLEY_ARCHIVE_ROOT", tempfile.mkdtemp(prefix="archive-bench-"))
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.PARLEY["ARCHIVE_ROOT"] = os.environ["PARLEY_ARCHIVE_ROOT"]
    call_command("migrate", verbosity=0)
    print(
        f"archive end to end on {connection.vendor} "
        f"({'configured' if 'DATABASE_URL' in os.environ else 'a fresh SQLite file'}): "
        f"{args.messages:,} customers' messages, Python {sys.version.split()[0]}\n"
    )
    header = (
        f"{'records':>8}{'archive/s':>11}{'close/s':>10}{'export/s':>10}"
        f"{'warcio/s':>10}{'vs warcio':>10}"
    )
    print(header)
    print("-" * len(header))
    row = run(args.messages)
    print(
        f"{int(row['records']):>8,}{row['capture']:>11,.0f}{row['close']:>10,.0f}"
        f"{row['export']:>10,.0f}{row['baseline']:>10,.0f}"
        f"{row['capture'] / row['baseline']:>9.2f}x"
    )
    print(
        "\narchive/s: the stream consumer (records built, gzip, SHA-256, index rows, its "
        "position saved);\nclose/s: files written to the store with manifests; export/s: "
        "a WACZ of every record;\nwarcio/s: plain warcio writing the same payloads, no "
        "database (the baseline)."
    )
