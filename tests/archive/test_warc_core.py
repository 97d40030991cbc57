"""The archive's pure core (archive.warc): records, files, verification, manifests, signed
digests, CDXJ and WACZ. No database, no Django; the files written here are checked by the
real tools (gzip, warcio, FastWARC, cdxj-indexer, py-wacz) run as subprocesses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
import json
import subprocess
import sys
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest
from warcio.warcwriter import BufferWARCWriter

from archive.warc import verify
from archive.warc.cdxj import build_cdxj, cdxj_entry, cdxj_line, indexed
from archive.warc.files import FileWriter, roll_due
from archive.warc.manifest import (
    Digest,
    Manifest,
    check_chain,
    check_digests,
    new_signing_key,
    sign_digest,
    verify_digest,
)
from archive.warc.problems import Problem
from archive.warc.reader import ArchiveError, iter_records, read_member
from archive.warc.records import (
    RecordSpec,
    block_digest_of,
    encode_record,
    encode_warcinfo,
    record_id_for,
    warc_date,
)
from archive.warc.verify import check_file, check_stream
from archive.warc.wacz import build_wacz, read_wacz

BIN = Path(sys.executable).parent
T0 = dt.datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=dt.UTC)
BUSINESS = ("WARC-Parley-Business", "acme-1")


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Overrides the suite-wide fixture that clears the (Redis) cache: nothing to clear."""


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, check=False
    )


def message_specs(count: int, *, prefix: str = "wamid.M") -> list[RecordSpec]:
    """A resource record per message and, for every other one, a metadata record about it."""
    specs = []
    for i in range(count):
        wamid = f"{prefix}{i}"
        rid = record_id_for("message", wamid)
        uri = f"urn:parley:message:{wamid}"
        body = {"id": wamid, "from": "919876543210", "text": {"body": f"Où est ma commande {i}?"}}
        payload = json.dumps(body, ensure_ascii=False).encode()
        when = T0 + dt.timedelta(seconds=i)
        specs.append(RecordSpec(rid, "resource", uri, when, payload, extra=(BUSINESS,)))
        if i % 2 == 0:
            status = json.dumps({"status": "read", "id": wamid}).encode()
            specs.append(
                RecordSpec(
                    record_id_for("status", wamid, "read"), "metadata", uri, when, status,
                    refers_to=rid, extra=(BUSINESS,),
                )
            )  # fmt: skip
    return specs


def write_file(path: Path, specs: list[RecordSpec], previous_hash: str = "") -> Manifest:
    with path.open("wb") as out:
        writer = FileWriter(out, path.name, opened_at=T0, fields={"operator": "Acme"})
        for spec in specs:
            writer.add(encode_record(spec))
        return writer.close(closed_at=T0 + dt.timedelta(hours=1), previous_hash=previous_hash)


# --- records --------------------------------------------------------------------------------


def test_record_ids_are_deterministic_uuid5_urns() -> None:
    first = record_id_for("message", "wamid.A")
    assert first == record_id_for("message", "wamid.A")
    assert first != record_id_for("message", "wamid.B")
    # Parts are length-prefixed: the same characters split differently are different ids.
    assert record_id_for("ab", "c") != record_id_for("a", "bc")
    assert first.startswith("urn:uuid:")
    assert uuid.UUID(first.removeprefix("urn:uuid:")).version == 5
    spec = message_specs(1)[0]
    # Re-running a consumer writes the same bytes (gzip mtime 0), not merely the same id.
    assert encode_record(spec).member == encode_record(dataclasses.replace(spec)).member


def test_a_record_is_one_gzip_member_and_reads_back() -> None:
    spec = message_specs(1)[0]
    encoded = encode_record(spec)
    decompressor = zlib.decompressobj(31)
    raw = decompressor.decompress(encoded.member)
    assert decompressor.eof and decompressor.unused_data == b""
    assert raw.startswith(b"WARC/1.1\r\n") and raw.endswith(spec.payload + b"\r\n\r\n")
    assert encoded.length == len(encoded.member)
    assert encoded.block_digest == block_digest_of(spec.payload)
    # WARC/1.1 dates carry the microseconds; no payload digest (FastWARC would fail it).
    assert b"WARC-Date: 2026-03-02T09:00:00.123456Z\r\n" in raw
    assert b"WARC-Payload-Digest" not in raw

    record = read_member(encoded.member)
    assert (record.record_id, record.kind, record.target_uri) == (
        spec.record_id, "resource", spec.target_uri,
    )  # fmt: skip
    assert record.date == T0 and record.payload == spec.payload
    assert record.headers["WARC-Parley-Business"] == "acme-1"
    assert (record.offset, record.length) == (0, encoded.length)
    with pytest.raises(ArchiveError):
        read_member(encoded.member + encoded.member)  # two members are not one record


def _without_payload_digest(raw: bytes) -> bytes:
    return b"".join(
        line for line in raw.splitlines(keepends=True) if not line.startswith(b"WARC-Payload")
    )


def test_header_block_is_what_warcio_writes() -> None:
    """Byte for byte what warcio's own writer produces from the same headers, except the
    WARC-Payload-Digest warcio adds on its own."""
    writer = BufferWARCWriter(gzip=False, warc_version="1.1")
    for spec in message_specs(2)[:2]:  # a resource and its metadata record
        raw = zlib.decompress(encode_record(spec).member, 31)
        head, _, _ = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")[1:]
        headers = dict(line.split(": ", 1) for line in lines)
        record = writer.create_warc_record(
            spec.target_uri,
            spec.kind,
            payload=io.BytesIO(spec.payload),
            length=len(spec.payload),
            warc_content_type=spec.content_type,
            warc_headers_dict=headers,
        )
        writer.write_record(record)
        assert _without_payload_digest(writer.get_contents()) == raw
        writer.out = io.BytesIO()

    info = zlib.decompress(encode_warcinfo("a.warc.gz", {"operator": "Acme"}, T0), 31)
    head, _, block = info.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    block = block[: -len(b"\r\n\r\n")]
    record = writer.create_warc_record(
        "", "warcinfo", payload=io.BytesIO(block), length=len(block),
        warc_content_type="application/warc-fields", warc_headers_dict=headers,
    )  # fmt: skip
    writer.write_record(record)
    assert writer.get_contents() == info
    assert b"software: Parley\r\n" in block and b"format: WARC File Format 1.1\r\n" in block


@pytest.mark.parametrize(
    "change",
    [
        {"extra": (("WARC-Parley-Business", "acme\r\nWARC-Type: revisit"),)},  # injection
        {"extra": (("Content-Length", "1"),)},  # a header the archive writes itself
        {"extra": (("Bad Name", "x"),)},
        {"target_uri": "urn:parley:message:a b"},
        {"record_id": "<urn:uuid:x>"},
        {"date": dt.datetime(2026, 3, 2, 9, 0)},  # naive
        {"refers_to": "urn:uuid:1"},  # only metadata records refer to another
        {"kind": "response"},
    ],
)
def test_unsafe_specs_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        dataclasses.replace(message_specs(1)[0], **change)  # type: ignore[arg-type]


def test_warc_dates_are_utc_with_microseconds() -> None:
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert warc_date(dt.datetime(2026, 3, 2, 14, 30, tzinfo=ist)) == "2026-03-02T09:00:00.000000Z"


# --- files and the independent checkers ---------------------------------------------------


def test_files_pass_gzip_warcio_and_fastwarc_with_every_digest_verified(tmp_path: Path) -> None:
    specs = message_specs(4)
    path = tmp_path / "acme-00001.warc.gz"
    manifest = write_file(path, specs)
    total = len(specs) + 1  # and the warcinfo

    assert run("gzip", "-t", path).returncode == 0
    checked = run(BIN / "warcio", "check", "-v", path)
    assert checked.returncode == 0, checked.stdout
    # warcio check passes records without digests too: each one must say it was verified.
    assert checked.stdout.count("digest pass") == total, checked.stdout
    fast = run(BIN / "fastwarc", "check", "--verify-payloads", path)
    assert fast.returncode == 0, fast.stdout + fast.stderr
    assert f"{total} records were verified successfully." in fast.stdout
    assert "skipped" not in fast.stdout  # FastWARC skips records without a block digest
    assert check_file(manifest, path.read_bytes()) == []

    # A record whose block was changed after its digest, recompressed as valid gzip: both
    # checkers refuse it (so the passes above are verifications, not defaults).
    raw = zlib.decompress(encode_record(specs[0]).member, 31).replace(b"commande", b"COMMANDE")
    forged = tmp_path / "forged.warc.gz"
    forged.write_bytes(gzip.compress(raw, mtime=0))
    assert run(BIN / "warcio", "check", forged).returncode == 1
    assert run(BIN / "fastwarc", "check", "-q", "-p", forged).returncode == 1
    with pytest.raises(ArchiveError, match="digest"):
        list(iter_records(io.BytesIO(forged.read_bytes())))


def test_file_writer_manifest_and_offsets(tmp_path: Path) -> None:
    specs = message_specs(3)
    buffer = io.BytesIO()
    writer = FileWriter(buffer, "acme-00002.warc.gz", opened_at=T0)
    offsets = [writer.add(encode_record(spec)) for spec in specs]
    manifest = writer.close(closed_at=T0, previous_hash="ab" * 32)
    data = buffer.getvalue()
    assert manifest.size == len(data) and manifest.record_count == len(specs)
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()
    assert (manifest.first_record_id, manifest.last_record_id) == (
        specs[0].record_id, specs[-1].record_id,
    )  # fmt: skip
    for spec, offset in zip(specs, offsets, strict=True):
        length = encode_record(spec).length
        assert read_member(data[offset : offset + length]).record_id == spec.record_id
    with pytest.raises(ValueError, match="closed"):
        writer.add(encode_record(specs[0]))


def test_roll_due() -> None:
    hour = dt.timedelta(hours=1)
    assert not roll_due(10, T0, T0 + hour - dt.timedelta(seconds=1), 100, hour)
    assert roll_due(10, T0, T0 + hour, 100, hour)
    assert roll_due(100, T0, T0, 100, hour)


# --- verification -------------------------------------------------------------------------


@pytest.fixture
def closed_file(tmp_path: Path) -> tuple[Manifest, bytes]:
    path = tmp_path / "acme-00003.warc.gz"
    manifest = write_file(path, message_specs(6))
    return manifest, path.read_bytes()


def kinds(problems: list[Problem]) -> list[str]:
    return [p.kind for p in problems]


def test_check_file_missing_truncated_modified(closed_file: tuple[Manifest, bytes]) -> None:
    manifest, data = closed_file
    assert check_file(manifest, data) == []
    assert kinds(check_file(manifest, None)) == ["missing"]

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    problems = check_file(manifest, bytes(flipped))
    assert problems[0].kind == "modified" and problems[0].file_name == manifest.file_name
    assert "corrupt" in kinds(problems)  # and the walk says where

    assert kinds(check_file(manifest, data + b"\x00")) == ["modified", "corrupt"]
    assert kinds(check_file(manifest, data[:-1])) == ["truncated"]


def test_a_cut_at_a_member_boundary_is_caught_where_warcio_check_is_blind(
    closed_file: tuple[Manifest, bytes], tmp_path: Path
) -> None:
    manifest, data = closed_file
    last = list(iter_records(io.BytesIO(data)))[-1]
    cut = data[: last.offset]
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(cut)
    assert run(BIN / "warcio", "check", path).returncode == 0  # nothing wrong, says warcio
    assert kinds(check_file(manifest, cut)) == ["truncated"]
    # Even with a manifest that agrees with the cut file, its content does not.
    agreeing = dataclasses.replace(manifest, size=len(cut), sha256=hashlib.sha256(cut).hexdigest())
    assert kinds(check_file(agreeing, cut)) == ["count_mismatch"]


def test_the_walk_finds_corruption_the_manifest_agrees_with(
    closed_file: tuple[Manifest, bytes],
) -> None:
    """Writer-side faults (the manifest was computed over bad bytes) are still found."""
    manifest, data = closed_file
    records = list(iter_records(io.BytesIO(data)))

    def agreeing(content: bytes) -> Manifest:
        digest = hashlib.sha256(content).hexdigest()
        return dataclasses.replace(manifest, size=len(content), sha256=digest)

    # A member cut in the middle, at the end of the file.
    mid = data[: records[-1].offset + records[-1].length // 2]
    problems = check_file(agreeing(mid), mid)
    assert kinds(problems) == ["corrupt"] and "does not end" in problems[0].detail
    # A valid gzip member whose block no longer matches its WARC-Block-Digest.
    second = records[1]
    raw = zlib.decompress(data[second.offset : second.offset + second.length], 31)
    forged = gzip.compress(raw.replace(b"commande", b"COMMANDE"), mtime=0)
    spliced = data[: second.offset] + forged + data[second.offset + second.length :]
    problems = check_file(agreeing(spliced), spliced)
    assert kinds(problems) == ["corrupt"] and "WARC-Block-Digest" in problems[0].detail
    assert f"offset {second.offset}" in problems[0].detail
    # The manifest counts one record more than the file holds.
    more = dataclasses.replace(manifest, record_count=manifest.record_count + 1)
    assert kinds(check_file(more, data)) == ["count_mismatch"]
    # A file without its warcinfo.
    body = data[records[1].offset :]
    assert "the first record is not a warcinfo record" in check_file(agreeing(body), body)[0].detail


def test_check_stream_across_chunk_and_feed_boundaries(
    closed_file: tuple[Manifest, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, data = closed_file
    # Chunks and zlib feeds far smaller than a member: every member straddles boundaries.
    monkeypatch.setattr(verify, "CHUNK", 97)
    monkeypatch.setattr(verify, "_STEP", 31)
    assert check_stream(manifest, io.BytesIO(data)) == []
    assert check_file(manifest, data) == []
    assert kinds(check_stream(manifest, io.BytesIO(data[:-200]))) == ["truncated"]
    assert kinds(check_stream(manifest, None)) == ["missing"]


# --- manifests and signed digests -----------------------------------------------------------


def make_chain(length: int) -> list[Manifest]:
    chain: list[Manifest] = []
    for i in range(length):
        chain.append(
            Manifest(
                file_name=f"acme-{i:05d}.warc.gz", sha256=f"{i:064x}", size=1000 + i,
                record_count=10, first_record_id=record_id_for("f", str(i)),
                last_record_id=record_id_for("l", str(i)),
                closed_at=T0 + dt.timedelta(hours=i),
                previous_hash=chain[-1].hash() if chain else "",
            )
        )  # fmt: skip
    return chain


def test_manifest_canonical_form_and_hash() -> None:
    manifest = make_chain(1)[0]
    canonical = manifest.canonical()
    fields = json.loads(canonical)
    assert list(fields) == sorted(fields) and b" " not in canonical
    assert fields["closed_at"] == "2026-03-02T09:00:00.123456+00:00"
    assert Manifest.from_canonical(canonical) == manifest
    # The same instant written in another zone hashes the same.
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    same = dataclasses.replace(manifest, closed_at=manifest.closed_at.astimezone(ist))
    assert same.hash() == manifest.hash()
    assert dataclasses.replace(manifest, size=manifest.size + 1).hash() != manifest.hash()


def test_check_chain_names_the_first_broken_link() -> None:
    chain = make_chain(4)
    assert check_chain(chain) == []
    assert check_chain(chain[2:], anchor=chain[1].hash()) == []
    # A file's manifest rewritten (say, to match a tampered file): the next link breaks.
    tampered = [chain[0], dataclasses.replace(chain[1], sha256="f" * 64), *chain[2:]]
    problems = check_chain(tampered)
    assert [(p.kind, p.file_name) for p in problems] == [("chain_broken", chain[2].file_name)]
    assert chain[1].file_name in problems[0].detail
    # A manifest removed from the middle.
    problems = check_chain([chain[0], *chain[2:]])
    assert [p.file_name for p in problems] == [chain[2].file_name]
    # A chain that does not start at the start.
    assert [p.file_name for p in check_chain(chain[1:])] == [chain[1].file_name]


def test_signed_digests_refuse_tampering() -> None:
    private, public = new_signing_key()
    assert len(private) == 32 and len(public) == 32
    chain = make_chain(3)
    first = Digest.of("acme-1", chain[:2], T0)
    first_sig = sign_digest(private, first)
    second = Digest.of("acme-1", chain, T0 + dt.timedelta(days=1), first_sig)
    second_sig = sign_digest(private, second)
    assert verify_digest(public, first, first_sig) and verify_digest(public, second, second_sig)
    assert check_digests(public, [(first, first_sig), (second, second_sig)], chain) == []

    forged = dataclasses.replace(second, head_hash="0" * 64)
    assert not verify_digest(public, forged, second_sig)
    _other_private, other_public = new_signing_key()
    assert not verify_digest(other_public, second, second_sig)
    assert not verify_digest(public, second, "zz")  # not even hex
    flipped = f"{int(second_sig[-2:], 16) ^ 0x01:02x}"  # one bit of the last byte
    assert not verify_digest(public, second, second_sig[:-2] + flipped)

    problems = check_digests(public, [(first, first_sig), (forged, second_sig)], chain)
    assert kinds(problems)[0] == "signature_invalid"
    # The newest manifest rewritten after it was signed.
    rewritten = [*chain[:2], dataclasses.replace(chain[2], record_count=9)]
    problems = check_digests(public, [(first, first_sig), (second, second_sig)], rewritten)
    assert [(p.kind, p.file_name) for p in problems] == [("chain_broken", chain[2].file_name)]
    # A digest dropped from the sequence.
    assert kinds(check_digests(public, [(second, second_sig)])) == ["chain_broken"]


# --- CDXJ and WACZ ---------------------------------------------------------------------------


def test_cdxj_offsets_point_at_their_members_and_match_cdxj_indexer(
    closed_file: tuple[Manifest, bytes], tmp_path: Path
) -> None:
    manifest, data = closed_file
    records = [r for r in iter_records(io.BytesIO(data)) if indexed(r)]
    index = build_cdxj(cdxj_line(r, manifest.file_name) for r in records).decode()
    lines = index.splitlines()
    assert lines == sorted(lines) and len(lines) == manifest.record_count
    for line in lines:
        key, timestamp, body = line.split(" ", 2)
        fields = json.loads(body)
        offset, length = int(fields["offset"]), int(fields["length"])
        record = read_member(data[offset : offset + length])
        assert key == record.target_uri.lower() == fields["url"].lower()
        assert timestamp == record.date.strftime("%Y%m%d%H%M%S") and len(timestamp) == 14
        assert fields["digest"] == record.block_digest and fields["filename"] == manifest.file_name

    # The same entries cdxj-indexer (pywb's indexer) makes of the file, except the digest
    # (it computes a SHA-1 payload digest when a record has none).
    path = tmp_path / manifest.file_name
    path.write_bytes(data)
    theirs = run(BIN / "cdxj-indexer", path)
    assert theirs.returncode == 0, theirs.stderr

    def comparable(text: str) -> set[tuple[str, str, str]]:
        rows = set()
        for line in text.splitlines():
            key, timestamp, body = line.split(" ", 2)
            fields = json.loads(body)
            fields.pop("digest")
            rows.add((key, timestamp, json.dumps(fields, sort_keys=True)))
        return rows

    assert comparable(index) == comparable(theirs.stdout)
    with pytest.raises(ValueError, match="urn"):
        cdxj_entry(
            target_uri="https://example.com/", date=T0, content_type="text/html", digest="",
            file_name="x.warc.gz", offset=0, length=1,
        )  # fmt: skip


def test_wacz_validates_and_reimports_the_same_records(tmp_path: Path) -> None:
    first = tmp_path / "acme-00001.warc.gz"
    second = tmp_path / "acme-00002.warc.gz"
    write_file(first, message_specs(3))
    write_file(second, message_specs(2, prefix="wamid.N"))
    warcs = [(p.name, p.read_bytes()) for p in (first, second)]
    wacz = tmp_path / "export.wacz"
    with wacz.open("wb") as out:
        build_wacz(out, warcs, "Acme, March 2026", T0)

    validated = run(BIN / "wacz", "validate", "-f", wacz)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Validation succeeded" in validated.stdout
    with zipfile.ZipFile(wacz) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert {
            "indexes/index.cdxj", "pages/pages.jsonl", "datapackage.json",
            "datapackage-digest.json",
        } <= set(infos)  # fmt: skip
        for name, _ in warcs:
            assert infos[f"archive/{name}"].compress_type == zipfile.ZIP_STORED
        pages = archive.read("pages/pages.jsonl").decode().splitlines()
        index = archive.read("indexes/index.cdxj").decode().splitlines()
    assert json.loads(pages[0]) == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert len(pages) == 1 + 5  # one page per message (resource record)
    assert len(index) == 5 + 3  # and the metadata records are indexed too

    def contents(files: list[tuple[str, bytes]]) -> list[tuple[str, str, bytes]]:
        return [
            (name, r.record_id, r.payload)
            for name, data in files
            for r in iter_records(io.BytesIO(data))
        ]

    with wacz.open("rb") as stream:
        reimported = read_wacz(stream)
    assert reimported == warcs
    assert contents(reimported) == contents(warcs)

    # Deterministic: the same export twice is the same bytes.
    again = io.BytesIO()
    build_wacz(again, warcs, "Acme, March 2026", T0)
    assert again.getvalue() == wacz.read_bytes()


def test_a_tampered_wacz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "acme-00001.warc.gz"
    write_file(path, message_specs(2))
    buffer = io.BytesIO()
    build_wacz(buffer, [(path.name, path.read_bytes())], "Acme", T0)
    data = buffer.getvalue()
    # One byte of the stored WARC changed, in place (the zip's own CRC is left stale, as a
    # careful forger would not; read_wacz must still refuse it by the datapackage hash).
    start = data.index(path.read_bytes()[:64])
    forged = bytearray(data)
    forged[start + 200] ^= 0x01
    with pytest.raises(ArchiveError):
        read_wacz(io.BytesIO(bytes(forged)))

    # A WARC swapped for another, zip rebuilt cleanly: only the datapackage hash says so.
    other = tmp_path / "other.warc.gz"
    write_file(other, message_specs(2, prefix="wamid.X"))
    swapped = tmp_path / "swapped.wacz"
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(swapped, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == f"archive/{path.name}":
                content = other.read_bytes()
            target.writestr(info, content)
    with swapped.open("rb") as stream, pytest.raises(ArchiveError, match="hash"):
        read_wacz(stream)
    assert run(BIN / "wacz", "validate", "-f", swapped).returncode == 1
