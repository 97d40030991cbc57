"""Write-once (WORM) stores for the compliance archive's WARC files.

Two backends behind one typed port, `ArchiveStore`:

- `LocalStore(root)`: files under a directory, written atomically and never overwritten,
  made read-only after the write; retention and legal-hold state in a sidecar
  `<key>.lock.json` next to each object. The default on one machine.
- `S3Store(bucket, ...)`: an S3-compatible bucket with Object Lock (AWS S3, MinIO, moto).

Retention runs on Parley's simulation clock, which can be years ahead of (or behind) real
time, so every decision about retention (may this object be deleted, may its retain-until
date change) is Parley's own, made against the `now` the caller passes in; the store never
reads the wall clock for it. S3 additionally enforces its own Object Lock against *real*
time: a COMPLIANCE object whose simulated retention has ended may still be locked at the
store, and `S3Store.delete` then raises `RetentionLocked` with `by_store=True` and the date
the store's lock ends, so the caller can record the purge as pending and retry.

Retain-until dates are timezone-aware, stored in UTC and rounded *up* to whole seconds (S3
keeps seconds), so a retention is never shortened by rounding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archive.storage.base import (
    MAX_KEY_BYTES,
    RETENTION_MODES,
    SIDECAR_SUFFIX,
    ArchiveStore,
    InvalidRequest,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    RetentionLocked,
    RetentionMode,
    StoreError,
    check_delete,
    check_retention_change,
    validate_key,
)
from archive.storage.local import LocalStore
from archive.storage.s3 import S3Store

# -- the factory ---------------------------------------------------------------------------------


def _setting(config: Mapping[str, Any], name: str, env: str, default: str | None) -> str | None:
    value = config.get(name)
    if value in (None, ""):
        value = os.environ.get(env) or default
    return str(value) if value not in (None, "") else None


def default_archive_root() -> Path:
    from django.conf import settings

    var_dir = getattr(settings, "VAR_DIR", None) or Path(settings.BASE_DIR) / "var"
    return Path(var_dir) / "archive"


def get_store(config: Mapping[str, Any] | None = None) -> ArchiveStore:
    """The archive store `config` (default: `settings.PARLEY`) names:
    `ARCHIVE_STORE` = "local" (files under `ARCHIVE_ROOT`, default `<VAR_DIR>/archive`) or
    "s3" (bucket `ARCHIVE_S3_BUCKET`, default "parley-archive"; endpoint, keys, region and
    addressing style from `ARCHIVE_S3_ENDPOINT_URL`, `ARCHIVE_S3_ACCESS_KEY_ID`,
    `ARCHIVE_S3_SECRET_ACCESS_KEY`, `ARCHIVE_S3_REGION`, `ARCHIVE_S3_ADDRESSING_STYLE`, else
    the PARLEY_S3_* environment variables the media storage uses). Touches no network and
    no disk; call `S3Store.ensure_bucket()` to create the bucket."""
    if config is None:
        from django.conf import settings

        config = getattr(settings, "PARLEY", {}) or {}
    kind = str(config.get("ARCHIVE_STORE") or "local").strip().lower()
    if kind == "local":
        root = config.get("ARCHIVE_ROOT")
        return LocalStore(Path(root) if root else default_archive_root())
    if kind == "s3":
        return S3Store(
            str(config.get("ARCHIVE_S3_BUCKET") or "parley-archive"),
            endpoint_url=_setting(
                config, "ARCHIVE_S3_ENDPOINT_URL", "PARLEY_S3_ENDPOINT_URL", None
            ),
            access_key=_setting(
                config, "ARCHIVE_S3_ACCESS_KEY_ID", "PARLEY_S3_ACCESS_KEY_ID", None
            ),
            secret_key=_setting(
                config, "ARCHIVE_S3_SECRET_ACCESS_KEY", "PARLEY_S3_SECRET_ACCESS_KEY", None
            ),
            region=_setting(config, "ARCHIVE_S3_REGION", "PARLEY_S3_REGION", None),
            addressing_style=_setting(
                config, "ARCHIVE_S3_ADDRESSING_STYLE", "PARLEY_S3_ADDRESSING_STYLE", "path"
            )
            or "path",
        )
    raise StoreError(
        f"Unknown archive store {kind!r} (PARLEY['ARCHIVE_STORE']); use 'local' or 's3'."
    )


__all__ = [
    "MAX_KEY_BYTES",
    "RETENTION_MODES",
    "SIDECAR_SUFFIX",
    "ArchiveStore",
    "InvalidRequest",
    "LocalStore",
    "ObjectExists",
    "ObjectInfo",
    "ObjectMissing",
    "RetentionLocked",
    "RetentionMode",
    "S3Store",
    "StoreError",
    "check_delete",
    "check_retention_change",
    "default_archive_root",
    "get_store",
    "validate_key",
]
