"""CDXJ index lines, the form pywb and WACZ read and `cdxj-indexer` writes:
`<key> <14-digit timestamp> <json>`, sorted.

The archive's target URIs are `urn:` URIs; their key is the URI lower-cased, as SURT leaves
them. The json holds what `cdxj-indexer` writes for a resource record (offset and length as
strings, no status: there is no HTTP response), with the record's block digest as `digest`:
for resource and metadata records the block is the payload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from archive.warc.reader import ReadRecord

INDEXED_KINDS = frozenset({"resource", "metadata"})
_MIME_END = re.compile(r"[;\s]")


def indexed(record: ReadRecord) -> bool:
    """The records an index lists: cdxj-indexer's default, less HTTP (resource and metadata
    records, not warcinfo nor warc-fields metadata)."""
    return record.kind in INDEXED_KINDS and record.content_type != "application/warc-fields"


def url_key(uri: str) -> str:
    if not uri.lower().startswith("urn:"):
        # http(s) keys are SURTs; the archive writes no such targets.
        raise ValueError(f"only urn: targets are indexed, not {uri!r}")
    return uri.lower()


def cdxj_entry(
    *,
    target_uri: str,
    date: datetime,
    content_type: str,
    digest: str,
    file_name: str,
    offset: int,
    length: int,
) -> str:
    """One line (without its newline) from the fields an index row keeps."""
    timestamp = date.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    fields = {
        "url": target_uri,
        "mime": _MIME_END.split(content_type, 1)[0].strip(),
        "digest": digest,
        "length": str(length),
        "offset": str(offset),
        "filename": file_name,
    }
    return f"{url_key(target_uri)} {timestamp} {json.dumps(fields)}"


def cdxj_line(
    record: ReadRecord, file_name: str, offset: int | None = None, length: int | None = None
) -> str:
    """The line for a record read back; offset and length default to where it was read."""
    return cdxj_entry(
        target_uri=record.target_uri,
        date=record.date,
        content_type=record.content_type,
        digest=record.block_digest,
        file_name=file_name,
        offset=record.offset if offset is None else offset,
        length=record.length if length is None else length,
    )


def build_cdxj(lines: Iterable[str]) -> bytes:
    """The index file: lines sorted (by key, then timestamp), one per line."""
    ordered = sorted(lines)
    return ("\n".join(ordered) + "\n").encode("utf-8") if ordered else b""
