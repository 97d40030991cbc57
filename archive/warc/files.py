"""Assembling WARC files: a warcinfo member, then record members, written to a binary stream
while the file's manifest is computed on the way."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import BinaryIO

from archive.warc.manifest import Manifest
from archive.warc.records import EncodedRecord, encode_warcinfo


class FileWriter:
    """Writes one WARC file. `add` returns each member's offset for the index; `close`
    returns the manifest (the stream itself is left open for the caller)."""

    def __init__(
        self,
        out: BinaryIO,
        file_name: str,
        *,
        opened_at: datetime,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self._out = out
        self.file_name = file_name
        self.opened_at = opened_at
        self._sha = hashlib.sha256()
        self.size = 0
        self.record_count = 0
        self.first_record_id = ""
        self.last_record_id = ""
        self._closed = False
        self._write(encode_warcinfo(file_name, fields or {}, opened_at))

    def _write(self, member: bytes) -> int:
        offset = self.size
        self._out.write(member)
        self._sha.update(member)
        self.size += len(member)
        return offset

    def add(self, record: EncodedRecord) -> int:
        if self._closed:
            raise ValueError(f"{self.file_name} is closed")
        offset = self._write(record.member)
        self.record_count += 1
        self.first_record_id = self.first_record_id or record.record_id
        self.last_record_id = record.record_id
        return offset

    def close(self, *, closed_at: datetime, previous_hash: str) -> Manifest:
        if self._closed:
            raise ValueError(f"{self.file_name} is already closed")
        self._closed = True
        self._out.flush()
        return Manifest(
            file_name=self.file_name,
            sha256=self._sha.hexdigest(),
            size=self.size,
            record_count=self.record_count,
            first_record_id=self.first_record_id,
            last_record_id=self.last_record_id,
            closed_at=closed_at,
            previous_hash=previous_hash,
        )


def roll_due(
    size: int, opened_at: datetime, now: datetime, max_bytes: int, max_age: timedelta
) -> bool:
    """Whether an open file should be closed and a new one started: big enough or old enough
    (an idle business's records still reach a closed, verifiable file)."""
    return size >= max_bytes or now - opened_at >= max_age
