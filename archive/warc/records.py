"""WARC/1.1 records, one per gzip member.

The header block is built here rather than with warcio's `WARCWriter`, for reasons checked
against the tools (tests/archive/test_warc_core.py) and measured (bench/archive.py):

- digests: warcio adds a SHA-1 `WARC-Payload-Digest` to resource records, which
  `fastwarc check -p` fails (FastWARC verifies payload digests of HTTP records only), and
  writes no block digest on warcinfo records, which then nothing verifies; here every record
  carries a SHA-256 block digest and nothing else;
- determinism: the same spec gives the same bytes (gzip mtime 0), so a consumer that runs
  twice writes identical members;
- cost: per ~600-byte record deflate dominates either way (~25 µs); with no stream wrapping,
  header objects or second digest, this path's median per record was ~40 µs against
  warcio's ~48 µs in bench/archive.py.

The bytes are what warcio would write for the same headers (a test compares them), and warcio
stays the reader (`reader.py`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

RecordKind = Literal["resource", "metadata"]

WARC_VERSION = "1.1"
SOFTWARE = "Parley"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
WARCINFO_CONTENT_TYPE = "application/warc-fields"
# zlib's default level: on records of a few hundred bytes 6 and 9 compress alike and cost the
# same; on large attachments 9 is slower for little gain.
GZIP_LEVEL = 6

# Record ids are uuid5 in this namespace: re-running a consumer yields the same ids.
_NAMESPACE = uuid.UUID("5b0c5f0e-7d1a-4f43-9c1e-0a5e2a7c1d01")
# Headers this module writes itself; `extra` may not repeat them.
_RESERVED = frozenset(
    name.lower()
    for name in (
        "WARC-Type", "WARC-Record-ID", "WARC-Date", "WARC-Target-URI", "WARC-Refers-To",
        "Content-Type", "Content-Length", "WARC-Block-Digest", "WARC-Payload-Digest",
        "WARC-Filename",
    )
)  # fmt: skip


def record_id_for(*parts: str) -> str:
    """A deterministic `urn:uuid:` for the given parts (length-prefixed, so ("ab", "c") and
    ("a", "bc") differ)."""
    if not parts:
        raise ValueError("record_id_for needs at least one part")
    name = "".join(f"{len(part)}:{part}" for part in parts)
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def block_digest_of(block: bytes) -> str:
    """`sha256:` + base32 (RFC 4648, padded): the form warcio writes and one that both
    `warcio check` and `fastwarc check` verify (FastWARC knows the algorithm only as lower-case
    `sha256` and fails base64 values; both also accept hex, but base32 is what WARC writers
    and CDXJ indexes conventionally carry)."""
    return "sha256:" + base64.b32encode(hashlib.sha256(block).digest()).decode("ascii")


def warc_date(value: datetime) -> str:
    """WARC-Date in UTC with microseconds (WARC/1.1 allows a fraction; always six digits, so
    dates sort as strings)."""
    if value.tzinfo is None:
        raise ValueError("WARC dates must be timezone-aware")
    # isoformat is a third of strftime's cost, and this runs once per record.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _check_value(name: str, value: str) -> None:
    # A CR or LF in a value would end the header early: header injection.
    if "\r" in value or "\n" in value:
        raise ValueError(f"{name} must not contain a line break")


# A URI here has no whitespace and no angle brackets (one regex scan: this runs per record).
_BAD_URI = re.compile(r"[\s<>]")


def _check_uri(name: str, value: str) -> None:
    if not value or _BAD_URI.search(value):
        raise ValueError(f"{name} must be a URI without spaces or angle brackets: {value!r}")


def _check_header_name(name: str) -> None:
    if not name or any(ch == ":" or not 33 <= ord(ch) <= 126 for ch in name):
        raise ValueError(f"invalid WARC header name {name!r}")
    if name.lower() in _RESERVED:
        raise ValueError(f"{name} is written by the archive itself")


@dataclass(frozen=True)
class RecordSpec:
    """What to archive: one resource (a message) or metadata (about a resource) record."""

    record_id: str  # a `urn:uuid:` URI, without angle brackets
    kind: RecordKind
    target_uri: str  # e.g. urn:parley:message:wamid.XYZ
    date: datetime  # aware; written in UTC
    payload: bytes
    content_type: str = "application/json"
    refers_to: str = ""  # metadata records: the record id of the resource they describe
    extra: tuple[tuple[str, str], ...] = ()  # more headers, e.g. ("WARC-Parley-Business", …)

    def __post_init__(self) -> None:
        if self.kind not in ("resource", "metadata"):
            raise ValueError(f"unsupported record kind {self.kind!r}")
        _check_uri("record_id", self.record_id)
        _check_uri("target_uri", self.target_uri)
        if self.date.tzinfo is None:
            raise ValueError("date must be timezone-aware")
        _check_value("content_type", self.content_type)
        if not self.content_type:
            raise ValueError("content_type is required")
        if self.refers_to:
            if self.kind != "metadata":
                raise ValueError("refers_to is for metadata records")
            _check_uri("refers_to", self.refers_to)
        for name, value in self.extra:
            _check_header_name(name)
            _check_value(name, value)


@dataclass(frozen=True)
class EncodedRecord:
    record_id: str
    member: bytes  # exactly one gzip member holding exactly one record
    block_digest: str  # the WARC-Block-Digest value
    length: int  # len(member): what the index stores next to the member's offset


def _member(headers: list[tuple[str, str]], block: bytes) -> tuple[bytes, str]:
    digest = block_digest_of(block)
    lines = [f"WARC/{WARC_VERSION}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"WARC-Block-Digest: {digest}")
    lines.append(f"Content-Length: {len(block)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    # wbits 16 + 15: a gzip header (mtime 0, so the same record gives the same bytes) and a
    # 32 KiB window. Smaller windows and memLevels were measured: no faster on these records.
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    member = compressor.compress(head) + compressor.compress(block)
    member += compressor.compress(b"\r\n\r\n") + compressor.flush()
    return member, digest


def encode_record(spec: RecordSpec) -> EncodedRecord:
    headers = [
        ("WARC-Type", spec.kind),
        ("WARC-Record-ID", f"<{spec.record_id}>"),
        ("WARC-Date", warc_date(spec.date)),
        ("WARC-Target-URI", spec.target_uri),
    ]
    if spec.refers_to:
        headers.append(("WARC-Refers-To", f"<{spec.refers_to}>"))
    headers.extend(spec.extra)
    headers.append(("Content-Type", spec.content_type))
    member, digest = _member(headers, spec.payload)
    return EncodedRecord(spec.record_id, member, digest, len(member))


def warcinfo_id(filename: str) -> str:
    return record_id_for("warcinfo", filename)


def encode_warcinfo(filename: str, fields: Mapping[str, str], date: datetime) -> bytes:
    """One gzip member with the file's `warcinfo` record; `fields` add to (or override) the
    software, format and conformsTo lines."""
    _check_value("filename", filename)
    if not filename or "/" in filename:
        raise ValueError(f"invalid WARC file name {filename!r}")
    merged = {"software": SOFTWARE, "format": FORMAT, "conformsTo": CONFORMS_TO, **fields}
    for name, value in merged.items():
        _check_value(name, value)
        if not name or ":" in name or any(ch.isspace() for ch in name):
            raise ValueError(f"invalid warcinfo field name {name!r}")
    block = "".join(f"{name}: {value}\r\n" for name, value in merged.items()).encode("utf-8")
    headers = [
        ("WARC-Type", "warcinfo"),
        ("WARC-Record-ID", f"<{warcinfo_id(filename)}>"),
        ("WARC-Date", warc_date(date)),
        ("WARC-Filename", filename),
        ("Content-Type", WARCINFO_CONTENT_TYPE),
    ]
    member, _digest = _member(headers, block)
    return member
