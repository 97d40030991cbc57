"""Checking a stored WARC file against its manifest.

The file's SHA-256 and size say whether it is the file the writer closed; a walk of the gzip
stream member by member says where it is damaged and whether it holds what the manifest
says. `warcio check` alone is blind to a file cut at a member boundary (and reads a cut
member as a short record), so the walk decompresses every member itself and requires each
to end cleanly and hold exactly one record whose block matches its WARC-Block-Digest.

Counting: the manifest's `record_count` is the number of records after the file's warcinfo
(the resource and metadata records the index points at); the warcinfo must be the first
member and is not counted.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable
from functools import partial
from typing import BinaryIO

from archive.warc.manifest import Manifest
from archive.warc.problems import Problem

CHUNK = 1 << 20  # read from a stream at a time
# Input handed to zlib at a time. At a member's end zlib copies the rest of its input into
# `unused_data`: feeding a whole chunk would copy up to a MiB per ~600-byte member.
_STEP = 16 << 10
MAX_RECORD_PROBLEMS = 10  # per file; a systematic fault would otherwise list every record
_DIGESTS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}


def _digest_matches(value: bytes, block: memoryview) -> bool:
    algorithm, sep, encoded = value.decode("ascii", "replace").partition(":")
    new = _DIGESTS.get(algorithm.lower())
    if not sep or new is None:
        return False
    actual = new(block).digest()
    # Base32 (what the writer writes) or hex: the forms both warcio and FastWARC accept.
    if len(encoded) == 2 * len(actual):
        return encoded.lower() == actual.hex()
    return encoded.upper() == base64.b32encode(actual).decode("ascii")


def _parse_record(data: bytes) -> tuple[str, str]:
    """(WARC-Type, WARC-Record-ID) of the one record a member holds; ValueError otherwise."""
    end = data.find(b"\r\n\r\n")
    if not data.startswith(b"WARC/1.") or end < 0:
        raise ValueError("no WARC header block")
    headers = {}
    for line in data[:end].split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError(f"bad header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    try:
        length = int(headers[b"content-length"])
    except (KeyError, ValueError):
        raise ValueError("no valid Content-Length") from None
    start = end + 4
    if len(data) != start + length + 4 or not data.endswith(b"\r\n\r\n"):
        raise ValueError("the record does not fill its gzip member exactly")
    digest = headers.get(b"warc-block-digest")
    if digest is None:
        raise ValueError("no WARC-Block-Digest")
    if not _digest_matches(digest, memoryview(data)[start : start + length]):
        raise ValueError("block does not match WARC-Block-Digest")
    return headers.get(b"warc-type", b"").decode(), headers.get(b"warc-record-id", b"").decode()


class _Walk:
    """Decompresses a gzip stream fed in pieces, one member at a time."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.problems: list[Problem] = []
        self.broken = False  # a gzip error: nothing after it can be located
        self.pos = 0
        self.member_start = 0
        self.members = 0
        self.records = 0  # after the warcinfo
        self.first_id = ""
        self.last_id = ""
        self._record_problems = 0
        self._parts: list[bytes] = []
        self._zlib = zlib.decompressobj(31)

    def corrupt(self, detail: str) -> None:
        self._record_problems += 1
        if self._record_problems <= MAX_RECORD_PROBLEMS:
            self.problems.append(Problem(self.file_name, "corrupt", detail))

    def feed(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        i = 0
        while i < len(view) and not self.broken:
            piece = view[i : i + _STEP]
            try:
                out = self._zlib.decompress(piece)
            except zlib.error as exc:
                self.broken = True
                self.corrupt(f"gzip member at offset {self.member_start}: {exc}")
                return
            if out:
                self._parts.append(out)
            used = len(piece)
            if self._zlib.eof:
                used -= len(self._zlib.unused_data)
                self.pos += used
                self._end_member()
            else:
                self.pos += used
            i += used

    def _end_member(self) -> None:
        data = b"".join(self._parts)
        self._parts = []
        self._zlib = zlib.decompressobj(31)
        offset, self.member_start = self.member_start, self.pos
        first = self.members == 0
        self.members += 1
        try:
            kind, record_id = _parse_record(data)
        except ValueError as exc:
            self.corrupt(f"record at offset {offset}: {exc}")
            # Unreadable, but still one member: counted as what it should have been.
            kind, record_id = ("warcinfo" if first else "unreadable"), ""
        if first and kind != "warcinfo":
            self.corrupt("the first record is not a warcinfo record")
        if kind == "warcinfo" and first:
            return
        if kind == "warcinfo":
            self.corrupt(f"a second warcinfo record at offset {offset}")
        self.records += 1
        record_id = record_id.strip("<>")
        self.first_id = self.first_id or record_id
        self.last_id = record_id

    def finish(self) -> None:
        if not self.broken and self.pos > self.member_start:
            self.broken = True
            self.corrupt(f"gzip member at offset {self.member_start} does not end")


def _check(manifest: Manifest, chunks: Iterable[bytes | memoryview]) -> list[Problem]:
    name = manifest.file_name
    sha = hashlib.sha256()
    size = 0
    walk = _Walk(name)
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
        walk.feed(chunk)
    walk.finish()
    if size < manifest.size:
        # A cut file: whatever the walk says about its last member follows from the cut.
        return [Problem(name, "truncated", f"{size} of {manifest.size} bytes")]
    problems = []
    if size != manifest.size:
        problems.append(
            Problem(name, "modified", f"{size} bytes, the manifest says {manifest.size}")
        )
    elif sha.hexdigest() != manifest.sha256:
        problems.append(Problem(name, "modified", f"sha256 {sha.hexdigest()} != {manifest.sha256}"))
    problems.extend(walk.problems)
    if walk.broken:
        return problems
    if walk.records != manifest.record_count:
        problems.append(
            Problem(
                name,
                "count_mismatch",
                f"{walk.records} records, the manifest says {manifest.record_count}",
            )
        )
    elif not walk.problems and (walk.first_id, walk.last_id) != (
        manifest.first_record_id,
        manifest.last_record_id,
    ):
        problems.append(
            Problem(name, "count_mismatch", "first or last record id differs from the manifest")
        )
    return problems


def check_file(manifest: Manifest, data: bytes | None) -> list[Problem]:
    """Problems of a file held in memory (None: the storage has no such file)."""
    if data is None:
        return [Problem(manifest.file_name, "missing", "no such file in storage")]
    view = memoryview(data)
    return _check(manifest, (view[i : i + CHUNK] for i in range(0, len(view), CHUNK)))


def check_stream(manifest: Manifest, stream: BinaryIO | None) -> list[Problem]:
    """The same, reading the file a MiB at a time."""
    if stream is None:
        return [Problem(manifest.file_name, "missing", "no such file in storage")]
    return _check(manifest, iter(partial(stream.read, CHUNK), b""))
