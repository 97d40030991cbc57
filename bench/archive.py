"""Compliance archive figures. Prints figures, never asserts.

Sections (``--section NAME``, default ``core``; a new section is a function of the parsed
arguments added to `SECTIONS`, importing Django lazily if it needs it):

``core`` (no database, no Django): the pure core of `archive.warc`, in this one process and
thread (one core). N synthetic customers' messages (Cloud-API-shaped JSON of ~600 bytes, each
with its own wamid and text) and, for every fourth, a status metadata record about it, go
through:

- ``archive``: `RecordSpec` + `encode_record` (one gzip member, SHA-256 block digest) +
  `FileWriter.add` to a file on disk, closed with its manifest;
- ``warcio``: the baseline, plain warcio on the same records to another file:
  `WARCWriter(gzip=True, warc_version="1.1")`, `create_warc_record` + `write_record`;
- ``read``: `iter_records` over the archived file, block digests checked;
- ``verify``: `check_stream` of the file against its manifest (SHA-256, every member
  decompressed, every block digest);
- ``export``: `build_wacz` of the file (read again, CDXJ index, pages, zip).

The phases run in rounds (``--repeat``, default 3), each phase once per round in the order
above, and each shows its median round. Columns: records/s over the timed loop; p50/p99 µs
per record (per-record phases); ``cpu`` = CPU time over wall time (below ~95%: the shared
machine made the loop wait for a core); peak MiB of Python allocations (tracemalloc, in a
separate untimed pass of the same phase); the ratio to warcio. The target is 4,000 records/s
archived.

    .venv/bin/python bench/archive.py
    .venv/bin/python bench/archive.py --section core --records 50000
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import io
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

# The project's root before this folder, whose archive.py (this script) would shadow the app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from warcio.warcwriter import WARCWriter

from archive.warc.files import FileWriter
from archive.warc.reader import iter_records
from archive.warc.records import RecordSpec, encode_record, record_id_for, warc_date
from archive.warc.verify import check_stream
from archive.warc.wacz import build_wacz
from bench.bootstrap import percentile

TARGET = 4_000
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
WORDS = (
    "order", "delivery", "refund", "tracking", "yesterday", "please", "help", "status",
    "payment", "invoice", "address", "change", "cancel", "arrived", "damaged", "thanks",
)  # fmt: skip


@dataclasses.dataclass
class Row:
    phase: str
    records: int
    per_second: float
    p50_us: float | None
    p99_us: float | None
    cpu_share: float
    peak_mib: float | None = None
    note: str = ""


def make_specs(count: int, seed: int) -> list[RecordSpec]:
    rnd = random.Random(seed)
    specs = []
    for i in range(count):
        wamid = f"wamid.HBgM{rnd.getrandbits(160):040X}"
        rid = record_id_for("message", wamid)
        uri = f"urn:parley:message:{wamid}"
        when = T0 + dt.timedelta(milliseconds=37 * i)
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(40, 55)))
        body = {
            "messaging_product": "whatsapp", "id": wamid,
            "from": f"9198{rnd.randint(0, 10**8):08d}", "to": "15550001111",
            "timestamp": str(int(when.timestamp())), "type": "text",
            "text": {"body": text}, "direction": "inbound", "business": "acme-1",
            "conversation": f"conv-{rnd.randint(1, 5000)}",
        }  # fmt: skip
        extra = (("WARC-Parley-Business", "acme-1"),)
        payload = json.dumps(body).encode()
        specs.append(RecordSpec(rid, "resource", uri, when, payload, extra=extra))
        if i % 4 == 0:
            status = json.dumps({"status": "read", "id": wamid, "at": when.isoformat()}).encode()
            specs.append(
                RecordSpec(
                    record_id_for("status", wamid, "read"), "metadata", uri, when, status,
                    refers_to=rid, extra=extra,
                )
            )  # fmt: skip
    return specs


def timed(loop: Callable[[list[int]], int]) -> tuple[int, float, float, list[int]]:
    """Runs `loop`, which appends per-record ns to the list it is given and returns its
    record count: (records, wall s, cpu s, per-record ns)."""
    samples: list[int] = []
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = loop(samples)
    return count, time.perf_counter() - wall, time.process_time() - cpu, samples


def peak_mib(loop: Callable[[list[int]], int]) -> float:
    gc.collect()
    tracemalloc.start()
    loop([])
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def row(
    phase: str, result: tuple[int, float, float, list[int]], peak: float | None, note: str
) -> Row:
    count, wall, cpu, samples = result
    us = [ns / 1000 for ns in samples]
    return Row(
        phase, count, count / wall,
        percentile(us, 0.5) if us else None, percentile(us, 0.99) if us else None,
        cpu / wall, peak, note,
    )  # fmt: skip


def section_core(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    specs = make_specs(args.records, args.seed)
    sizes = sorted(len(s.payload) for s in specs if s.kind == "resource")
    print(
        f"core: {len(specs):,} records ({args.records:,} messages of median "
        f"{sizes[len(sizes) // 2]} B, and status metadata), one process, one thread"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    ours_path = workdir / "acme-00001.warc.gz"
    theirs_path = workdir / "warcio.warc.gz"
    clock = time.perf_counter_ns
    manifests = []

    def archive(samples: list[int]) -> int:
        with ours_path.open("wb") as out:
            writer = FileWriter(out, ours_path.name, opened_at=T0, fields={"operator": "bench"})
            for s in specs:
                t = clock()
                # Built from its fields, as a consumer does from an event.
                spec = RecordSpec(
                    s.record_id, s.kind, s.target_uri, s.date, s.payload,
                    refers_to=s.refers_to, extra=s.extra,
                )  # fmt: skip
                writer.add(encode_record(spec))
                samples.append(clock() - t)
            manifests.append(writer.close(closed_at=T0, previous_hash=""))
        return len(specs)

    def baseline(samples: list[int]) -> int:
        with theirs_path.open("wb") as out:
            writer = WARCWriter(out, gzip=True, warc_version="1.1")
            for s in specs:
                t = clock()
                headers = {"WARC-Record-ID": f"<{s.record_id}>", "WARC-Date": warc_date(s.date)}
                if s.refers_to:
                    headers["WARC-Refers-To"] = f"<{s.refers_to}>"
                headers.update(s.extra)
                record = writer.create_warc_record(
                    s.target_uri, s.kind, payload=io.BytesIO(s.payload), length=len(s.payload),
                    warc_content_type=s.content_type, warc_headers_dict=headers,
                )  # fmt: skip
                writer.write_record(record)
                samples.append(clock() - t)
        return len(specs)

    def read(samples: list[int]) -> int:
        count = 0
        with ours_path.open("rb") as stream:
            records = iter_records(stream)
            while True:
                t = clock()
                if next(records, None) is None:
                    break
                samples.append(clock() - t)
                count += 1
        return count - 1  # the warcinfo

    def verify(_samples: list[int]) -> int:
        with ours_path.open("rb") as stream:
            problems = check_stream(manifests[-1], stream)
        if problems:
            raise SystemExit(f"the archived file does not verify: {problems}")
        return manifests[-1].record_count

    def export(_samples: list[int]) -> int:
        with (workdir / "export.wacz").open("wb") as out:
            build_wacz(out, [(ours_path.name, ours_path.read_bytes())], "bench", T0)
        return len(specs)

    phases = [
        ("archive", archive, "encode_record + FileWriter"),
        ("warcio", baseline, "WARCWriter(gzip=True)"),
        ("read", read, "iter_records, digests checked"),
        ("verify", verify, "check_stream"),
        ("export", export, "build_wacz"),
    ]
    # Rounds of every phase in turn, so that a busy moment of the shared machine does not
    # fall on one side of the comparison only; each phase shows its median round.
    runs: dict[str, list[tuple[int, float, float, list[int]]]] = {name: [] for name, *_ in phases}
    for _round in range(args.repeat):
        for name, loop, _note in phases:
            runs[name].append(timed(loop))
    rows = []
    for name, loop, note in phases:
        ordered = sorted(runs[name], key=lambda result: result[1])
        peak = peak_mib(loop) if args.memory else None
        rows.append(row(name, ordered[len(ordered) // 2], peak, note))
    sizes_mib = ours_path.stat().st_size / 2**20, theirs_path.stat().st_size / 2**20

    header = (
        f"{'phase':<8} {'records':>8} {'rec/s':>9} {'p50 µs':>7} {'p99 µs':>7} {'cpu':>5} "
        f"{'peak MiB':>8} {'x warcio':>8}  what"
    )
    print(header)
    print("-" * len(header))
    baseline_rate = rows[1].per_second
    for r in rows:
        p50 = f"{r.p50_us:7.1f}" if r.p50_us is not None else f"{'-':>7}"
        p99 = f"{r.p99_us:7.1f}" if r.p99_us is not None else f"{'-':>7}"
        peak_text = f"{r.peak_mib:8.1f}" if r.peak_mib is not None else f"{'-':>8}"
        ratio = f"{r.per_second / baseline_rate:8.2f}" if r.phase == "archive" else f"{'':>8}"
        print(
            f"{r.phase:<8} {r.records:>8,} {r.per_second:>9,.0f} {p50} {p99} "
            f"{r.cpu_share:>5.0%} {peak_text} {ratio}  {r.note}"
        )
    archived = rows[0].per_second
    verdict = "met" if archived >= TARGET else "MISSED"
    print(
        f"\narchived {archived:,.0f} records/s = {archived / baseline_rate:.2f}x plain warcio "
        f"({baseline_rate:,.0f}/s); target {TARGET:,}/s: {verdict}"
    )
    print(
        f"files: ours {sizes_mib[0]:.2f} MiB, warcio's {sizes_mib[1]:.2f} MiB; process peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        f"({time.perf_counter() - started:.1f} s)"
    )
    for path in workdir.iterdir():
        path.unlink()
    workdir.rmdir()


def section_database(args: argparse.Namespace) -> None:
    from bench.archive_database import section_database as run

    run(args)


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "core": section_core,
    "database": section_database,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=[*SECTIONS, "all"], default="core")
    parser.add_argument("--records", type=int, default=10_000, help="messages (core)")
    parser.add_argument("--messages", type=int, default=5_000, help="messages (database)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is shown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the tracemalloc passes"
    )
    args = parser.parse_args()
    for name, section in SECTIONS.items():
        if args.section in (name, "all"):
            section(args)


if __name__ == "__main__":
    main()
