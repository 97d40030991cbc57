"""WACZ 1.1.1 export and re-import: WARC files, their CDXJ index and a page list in one zip
with a datapackage.json of hashes, as `wacz validate` checks it.

Layout (https://specs.webrecorder.net/wacz/1.1.1/): `archive/<name>.warc.gz` stored, not
deflated (players read members by offset through the zip); `indexes/index.cdxj` and
`pages/pages.jsonl` deflated; `datapackage.json` lists each with `sha256:<hex>` and size;
`datapackage-digest.json` holds the hash of datapackage.json.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO

from archive.warc.cdxj import build_cdxj, cdxj_line, indexed
from archive.warc.reader import ArchiveError, iter_records
from archive.warc.records import SOFTWARE

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
INDEX_PATH = "indexes/index.cdxj"
PAGES_PATH = "pages/pages.jsonl"


class WaczError(ArchiveError):
    """A WACZ that is not one this module wrote, or whose contents do not match its hashes."""


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> None:
    if not name.endswith((".warc.gz", ".warc")) or "/" in name or name.startswith("."):
        raise ValueError(f"invalid WARC file name {name!r}")


def _index_and_pages(warcs: Sequence[tuple[str, bytes]]) -> tuple[bytes, list[dict[str, Any]]]:
    lines = []
    pages: list[dict[str, Any]] = []
    for name, data in warcs:
        for record in iter_records(io.BytesIO(data)):
            if not indexed(record):
                continue
            lines.append(cdxj_line(record, name))
            if record.kind == "resource":
                pages.append(
                    {
                        "id": record.record_id,
                        "url": record.target_uri,
                        "ts": _iso(record.date),
                        "title": record.target_uri.rsplit(":", 1)[-1],
                    }
                )
    return build_cdxj(lines), pages


def _jsonl(pages: Sequence[Mapping[str, Any]]) -> bytes:
    rows = [PAGES_HEADER, *pages]
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def build_wacz(
    out: BinaryIO,
    warcs: Sequence[tuple[str, bytes]],
    title: str,
    created: datetime,
    pages: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Writes the WACZ of `warcs` ((name, bytes of a .warc.gz), in order) to `out`. Without
    `pages`, each resource record is a page (its target URI, date and id)."""
    if not warcs:
        raise ValueError("a WACZ needs at least one WARC file")
    names = [name for name, _ in warcs]
    for name in names:
        _check_name(name)
    if len(set(names)) != len(names):
        raise ValueError("WARC file names must be unique")
    index, found_pages = _index_and_pages(warcs)
    entries: list[tuple[str, bytes, int]] = [
        (f"archive/{name}", data, zipfile.ZIP_STORED) for name, data in warcs
    ]
    entries.append((INDEX_PATH, index, zipfile.ZIP_DEFLATED))
    entries.append(
        (PAGES_PATH, _jsonl(found_pages if pages is None else pages), zipfile.ZIP_DEFLATED)
    )
    package = {
        "profile": "data-package",
        "resources": [
            {
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "hash": _sha256(data),
                "bytes": len(data),
            }
            for path, data, _ in entries
        ],
        "title": title,
        "created": _iso(created),
        "wacz_version": WACZ_VERSION,
        "software": SOFTWARE,
    }
    package_bytes = json.dumps(package, indent=2).encode("utf-8")
    digest = {"path": "datapackage.json", "hash": _sha256(package_bytes)}
    entries.append(("datapackage.json", package_bytes, zipfile.ZIP_DEFLATED))
    entries.append(
        ("datapackage-digest.json", json.dumps(digest, indent=2).encode(), zipfile.ZIP_DEFLATED)
    )
    # Entry times from `created`: the same export, the same bytes.
    stamp = created.astimezone(UTC).timetuple()[:6]
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive:
        for path, data, compression in entries:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


def read_wacz(stream: BinaryIO) -> list[tuple[str, bytes]]:
    """The WARC files of a WACZ, (name, bytes) in datapackage order, after checking the
    datapackage's digest and every WARC's hash and size against it."""
    try:
        with zipfile.ZipFile(stream) as archive:
            package_bytes = archive.read("datapackage.json")
            if "datapackage-digest.json" in archive.namelist():
                digest = json.loads(archive.read("datapackage-digest.json"))
                if digest.get("hash") != _sha256(package_bytes):
                    raise WaczError("datapackage.json does not match datapackage-digest.json")
            package = json.loads(package_bytes)
            warcs = []
            for resource in package.get("resources", []):
                path = resource.get("path", "")
                if not path.startswith("archive/"):
                    continue
                data = archive.read(path)
                if resource.get("hash") != _sha256(data) or resource.get("bytes") != len(data):
                    raise WaczError(f"{path} does not match its hash in datapackage.json")
                name = path.removeprefix("archive/")
                _check_name(name)
                warcs.append((name, data))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise WaczError(f"not a readable WACZ: {exc}") from exc
    return warcs
