"""Reading WARC records back, with warcio: a whole file, or one member fetched by offset and
length from the index."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

GZIP_MAGIC = b"\x1f\x8b"


class ArchiveError(ValueError):
    """A WARC stream or member that cannot be read (bad gzip, bad headers, bad digest)."""


@dataclass(frozen=True)
class ReadRecord:
    record_id: str  # without angle brackets
    kind: str  # the WARC-Type: warcinfo, resource, metadata, …
    target_uri: str
    date: datetime  # aware, UTC
    content_type: str
    refers_to: str
    block_digest: str
    headers: dict[str, str]  # every WARC header as written (the last of repeated names)
    payload: bytes  # the record block
    offset: int  # of the gzip member in the file
    length: int  # of the gzip member


def _strip_brackets(value: str) -> str:
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def parse_warc_date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ArchiveError(f"bad WARC-Date {value!r}") from exc
    if parsed.tzinfo is None:  # WARC dates are UTC by definition
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iter_records(stream: BinaryIO, *, check_digests: bool = True) -> Iterator[ReadRecord]:
    """Every record of a WARC stream (gzip per record, or plain), in order. With
    `check_digests`, a record whose block does not match its WARC-Block-Digest raises
    `ArchiveError`."""
    iterator = ArchiveIterator(stream, check_digests="raise" if check_digests else False)
    try:
        for record in iterator:
            payload = record.raw_stream.read()
            iterator.read_to_end(record)
            headers = dict(record.rec_headers.headers)
            yield ReadRecord(
                record_id=_strip_brackets(headers.get("WARC-Record-ID", "")),
                kind=record.rec_type or "",
                target_uri=headers.get("WARC-Target-URI", ""),
                date=parse_warc_date(headers.get("WARC-Date", "")),
                content_type=headers.get("Content-Type", ""),
                refers_to=_strip_brackets(headers.get("WARC-Refers-To", "")),
                block_digest=headers.get("WARC-Block-Digest", ""),
                headers=headers,
                payload=payload,
                offset=iterator.get_record_offset(),
                length=iterator.get_record_length(),
            )
    except ArchiveLoadFailed as exc:
        raise ArchiveError(str(exc).strip()) from exc
    finally:
        iterator.close()


def read_member(data: bytes, *, check_digests: bool = True) -> ReadRecord:
    """The one record in `data`, a gzip member read at an index entry's offset and length."""
    if not data.startswith(GZIP_MAGIC):
        raise ArchiveError("not a gzip member")
    records = list(iter_records(io.BytesIO(data), check_digests=check_digests))
    if len(records) != 1 or records[0].length != len(data):
        raise ArchiveError(f"expected exactly one record in one member, read {len(records)}")
    return records[0]
