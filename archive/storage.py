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

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, get_args

from parley.core.errors import ParleyError

log = logging.getLogger(__name__)

RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]
RETENTION_MODES: tuple[RetentionMode, ...] = get_args(RetentionMode)

#: The suffix of LocalStore's sidecar files; keys may not end with it.
SIDECAR_SUFFIX = ".lock.json"
MAX_KEY_BYTES = 1024


# -- errors ------------------------------------------------------------------------------------


class StoreError(ParleyError):
    """The archive store failed or refused an operation (unreachable, misconfigured, …)."""

    http_status = 503
    code = 2


class InvalidRequest(StoreError):
    """A bad key, range or date: the caller's input, not the store, is wrong."""

    http_status = 400
    code = 100


class ObjectExists(StoreError):
    """The key is already written: archive objects are written once and never replaced."""

    http_status = 409
    code = 100

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Archive object {key!r} already exists; archive objects are written once and "
            "never replaced: write the new data under a new key."
        )
        self.key = key


class ObjectMissing(StoreError):
    http_status = 404
    code = 100
    subcode = 33

    def __init__(self, key: str) -> None:
        super().__init__(f"Archive object {key!r} does not exist in the archive store.")
        self.key = key


class RetentionLocked(StoreError):
    """Retention or a legal hold forbids the change or the deletion.

    `retain_until`/`mode` say which lock holds the object (None for a legal hold);
    `by_store` is True when Parley's own rules allowed the operation but the store's
    Object Lock, enforced against real time, still refused it until `retain_until`."""

    http_status = 409
    code = 100

    def __init__(
        self,
        message: str,
        *,
        key: str,
        retain_until: dt.datetime | None = None,
        mode: RetentionMode | None = None,
        legal_hold: bool = False,
        by_store: bool = False,
    ) -> None:
        super().__init__(message)
        self.key = key
        self.retain_until = retain_until
        self.mode = mode
        self.legal_hold = legal_hold
        self.by_store = by_store


# -- the port ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    retain_until: dt.datetime | None
    mode: RetentionMode | None
    legal_hold: bool


class ArchiveStore(Protocol):
    """A write-once object store with retention and legal hold (see the module docstring)."""

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: dt.datetime | None,
        mode: RetentionMode,
    ) -> None:
        """Write `data` under `key` once; `ObjectExists` if the key exists. Without
        `retain_until` the object has no retention (and `mode` is not recorded)."""
        ...

    def get(self, key: str) -> bytes: ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer at the end of the object, none past it)."""
        ...

    def size(self, key: str) -> int | None: ...

    def exists(self, key: str) -> bool: ...

    def head(self, key: str) -> ObjectInfo: ...

    def extend_retention(
        self,
        key: str,
        retain_until: dt.datetime,
        mode: RetentionMode,
        *,
        now: dt.datetime,
        bypass_governance: bool = False,
    ) -> None:
        """Set the object's retention. While the current one holds (`now < retain_until`,
        simulation clock) COMPLIANCE is never shortened nor turned into GOVERNANCE, and
        GOVERNANCE is shortened only with `bypass_governance`; the new date must be after
        `now`."""
        ...

    def set_legal_hold(self, key: str, on: bool) -> None: ...

    def delete(self, key: str, *, now: dt.datetime, bypass_governance: bool = False) -> None:
        """Remove the object and every version of its data. `RetentionLocked` while a legal
        hold is on or while `now < retain_until` (GOVERNANCE: unless `bypass_governance`)."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """The keys starting with `prefix`, in lexicographic order."""
        ...


# -- rules shared by every backend ---------------------------------------------------------------


def validate_key(key: str) -> str:
    """A relative, slash-separated key without traversal, hidden segments or the sidecar
    suffix; the same rules for every backend, so keys move between them."""
    if not isinstance(key, str) or not key:
        raise InvalidRequest("An archive key must be a non-empty string.", field="key")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidRequest(f"Archive keys are at most {MAX_KEY_BYTES} bytes.", field="key")
    if key.startswith("/"):
        raise InvalidRequest(
            f"Archive key {key!r} is absolute; keys are relative, like 'tenant/2026/x.warc.gz'.",
            field="key",
        )
    if any(ch == "\\" or ord(ch) < 0x20 or ch == "\x7f" for ch in key):
        raise InvalidRequest(
            f"Archive key {key!r} contains a backslash or a control character.", field="key"
        )
    for segment in key.split("/"):
        if segment in {".", ".."}:
            raise InvalidRequest(
                f"Archive key {key!r} contains a {segment!r} segment (path traversal).",
                field="key",
            )
        if not segment:
            raise InvalidRequest(
                f"Archive key {key!r} has an empty segment ('//' or a trailing '/').",
                field="key",
            )
        if segment.startswith("."):
            raise InvalidRequest(
                f"Archive key {key!r} has a segment starting with '.', which the store "
                "reserves for its own files.",
                field="key",
            )
    if key.endswith(SIDECAR_SUFFIX):
        raise InvalidRequest(
            f"Archive keys may not end with {SIDECAR_SUFFIX!r} (reserved for retention state).",
            field="key",
        )
    return key


def _validate_mode(mode: str) -> RetentionMode:
    for known in RETENTION_MODES:
        if mode == known:
            return known
    raise InvalidRequest(
        f"Unknown retention mode {mode!r}; use 'GOVERNANCE' or 'COMPLIANCE'.", field="mode"
    )


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{name} must be a timezone-aware datetime.", field=name)
    return value.astimezone(dt.UTC)


def _retain_until(value: dt.datetime) -> dt.datetime:
    """Aware, in UTC, rounded up to a whole second (never shortened by rounding)."""
    value = _aware(value, "retain_until")
    if value.microsecond:
        value = value.replace(microsecond=0) + dt.timedelta(seconds=1)
    return value


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_delete(info: ObjectInfo, *, now: dt.datetime, bypass_governance: bool) -> None:
    """Parley's own rule, on the simulation clock: raise `RetentionLocked` if `info` may not
    be deleted at `now`."""
    now = _aware(now, "now")
    if info.legal_hold:
        raise RetentionLocked(
            f"Archive object {info.key!r} is under a legal hold: release the hold before "
            "deleting it.",
            key=info.key,
            legal_hold=True,
        )
    if info.retain_until is None or now >= info.retain_until:
        return
    if info.mode == "GOVERNANCE" and bypass_governance:
        return
    hint = (
        "COMPLIANCE retention cannot be lifted early by anyone."
        if info.mode == "COMPLIANCE"
        else "Deleting it early needs governance bypass."
    )
    raise RetentionLocked(
        f"Archive object {info.key!r} is retained in {info.mode} mode until "
        f"{_iso(info.retain_until)} (simulation time is {_iso(now)}). {hint}",
        key=info.key,
        retain_until=info.retain_until,
        mode=info.mode,
    )


def check_retention_change(
    info: ObjectInfo,
    retain_until: dt.datetime,
    mode: RetentionMode,
    *,
    now: dt.datetime,
    bypass_governance: bool,
) -> None:
    """Parley's own rule for changing an object's retention, on the simulation clock."""
    now = _aware(now, "now")
    if retain_until <= now:
        raise InvalidRequest(
            f"The new retain-until date {_iso(retain_until)} is not after the simulation "
            f"time {_iso(now)}; a retention that has already ended protects nothing.",
            field="retain_until",
        )
    current = info.retain_until
    if current is None or now >= current:
        return  # no retention holds the object: any new one is allowed
    if info.mode == "COMPLIANCE":
        if mode != "COMPLIANCE":
            raise RetentionLocked(
                f"Archive object {info.key!r} is retained in COMPLIANCE mode until "
                f"{_iso(current)}; COMPLIANCE retention cannot be changed to GOVERNANCE "
                "while it lasts.",
                key=info.key,
                retain_until=current,
                mode="COMPLIANCE",
            )
        if retain_until < current:
            raise RetentionLocked(
                f"Archive object {info.key!r} is retained in COMPLIANCE mode until "
                f"{_iso(current)}; COMPLIANCE retention can only be extended, not shortened "
                f"to {_iso(retain_until)}.",
                key=info.key,
                retain_until=current,
                mode="COMPLIANCE",
            )
    elif info.mode == "GOVERNANCE" and retain_until < current and not bypass_governance:
        raise RetentionLocked(
            f"Archive object {info.key!r} is retained in GOVERNANCE mode until "
            f"{_iso(current)}; shortening it to {_iso(retain_until)} needs governance bypass.",
            key=info.key,
            retain_until=current,
            mode="GOVERNANCE",
        )


def _check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise InvalidRequest(
            f"A byte range needs offset >= 0 and length >= 0 (got {offset}, {length})."
        )


# -- LocalStore ----------------------------------------------------------------------------------


class LocalStore:
    """Files under `root`. Each object is written to a temporary file, flushed, made
    read-only (0o444) and hard-linked into place, which fails if the key exists: a write is
    atomic and never replaces an object. Its retention and legal hold live in a sidecar
    `<key>.lock.json`, replaced atomically and updated under an exclusive `flock` on the
    object. Retention is enforced by Parley (a local disk has no Object Lock)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # paths

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise InvalidRequest(f"Archive key {key!r} resolves outside the store.", field="key")
        return path

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(path.name + SIDECAR_SUFFIX)

    @staticmethod
    def _temp(path: Path) -> Path:
        return path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _write_temp(self, path: Path, data: bytes) -> Path:
        temp = self._temp(path)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temp, 0o444)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return temp

    # state

    def _write_state(self, path: Path, state: dict[str, Any]) -> None:
        sidecar = self._sidecar(path)
        temp = self._write_temp(sidecar, json.dumps(state, sort_keys=True).encode())
        os.replace(temp, sidecar)  # replacing a read-only file needs only the directory
        self._fsync_dir(path.parent)

    def _read_state(self, key: str, path: Path) -> dict[str, Any]:
        try:
            raw = self._sidecar(path).read_bytes()
        except FileNotFoundError:
            # Only a crash between writing the object and its sidecar leaves none.
            return {"retain_until": None, "mode": None, "legal_hold": False}
        try:
            state = json.loads(raw)
            if not isinstance(state, dict):
                raise ValueError("not an object")
            return state
        except ValueError as exc:
            raise StoreError(
                f"The retention state of archive object {key!r} ({self._sidecar(path)}) is "
                f"unreadable ({exc}); restore it from a backup before changing the object."
            ) from exc

    def _info(self, key: str, path: Path) -> ObjectInfo:
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(key) from None
        if not path.is_file():
            raise ObjectMissing(key)
        size = stat.st_size
        state = self._read_state(key, path)
        until = state.get("retain_until")
        mode = state.get("mode")
        return ObjectInfo(
            key=key,
            size=size,
            retain_until=dt.datetime.fromisoformat(until) if until else None,
            mode=_validate_mode(mode) if mode else None,
            legal_hold=bool(state.get("legal_hold")),
        )

    @contextlib.contextmanager
    def _locked(self, key: str, path: Path) -> Iterator[None]:
        """Serialise state changes of one object across threads and processes."""
        if not path.is_file():
            raise ObjectMissing(key)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(key) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    # the port

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: dt.datetime | None,
        mode: RetentionMode,
    ) -> None:
        path = self._path(key)
        mode = _validate_mode(mode)
        until = _retain_until(retain_until) if retain_until is not None else None
        if path.is_dir():
            raise InvalidRequest(
                f"Archive key {key!r} is a folder of other keys in this store; choose another.",
                field="key",
            )
        if path.exists():
            raise ObjectExists(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidRequest(
                f"Archive key {key!r} cannot be stored here: a part of its path is an object "
                "of its own in this store.",
                field="key",
            ) from None
        temp = self._write_temp(path, data)
        try:
            try:
                os.link(temp, path)  # fails if the key exists: no overwrite, even racing
            except FileExistsError:
                raise ObjectExists(key) from None
            except OSError as exc:
                if exc.errno not in {errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}:
                    raise
                # A filesystem without hard links: check, then rename.
                if path.exists():
                    raise ObjectExists(key) from None
                os.rename(temp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self._write_state(
            path,
            {
                "key": key,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "retain_until": until.isoformat() if until else None,
                "mode": mode if until else None,
                "legal_hold": False,
            },
        )

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(key) from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        _check_range(offset, length)
        try:
            with self._path(key).open("rb") as fh:
                fh.seek(offset)
                return fh.read(length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(key) from None

    def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            return path.stat().st_size if path.is_file() else None
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def head(self, key: str) -> ObjectInfo:
        return self._info(key, self._path(key))

    def extend_retention(
        self,
        key: str,
        retain_until: dt.datetime,
        mode: RetentionMode,
        *,
        now: dt.datetime,
        bypass_governance: bool = False,
    ) -> None:
        path = self._path(key)
        mode = _validate_mode(mode)
        until = _retain_until(retain_until)
        with self._locked(key, path):
            info = self._info(key, path)
            check_retention_change(info, until, mode, now=now, bypass_governance=bypass_governance)
            state = self._read_state(key, path)
            state.update(retain_until=until.isoformat(), mode=mode)
            self._write_state(path, state)

    def set_legal_hold(self, key: str, on: bool) -> None:
        path = self._path(key)
        with self._locked(key, path):
            state = self._read_state(key, path)
            state["legal_hold"] = bool(on)
            self._write_state(path, state)

    def delete(self, key: str, *, now: dt.datetime, bypass_governance: bool = False) -> None:
        path = self._path(key)
        with self._locked(key, path):
            check_delete(self._info(key, path), now=now, bypass_governance=bypass_governance)
            path.unlink()
            with contextlib.suppress(FileNotFoundError):
                self._sidecar(path).unlink()
        self._fsync_dir(path.parent)
        # Drop the directories the object leaves empty (another writer may refill them).
        parent = path.parent
        root = self.root.resolve()
        while parent.resolve() != root and parent.resolve().is_relative_to(root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def keys(self, prefix: str = "") -> Iterator[str]:
        # Walk only the directory the prefix names (when it is a valid key path).
        start, base = self.root, ""
        if "/" in prefix:
            directory = prefix.rsplit("/", 1)[0]
            try:
                validate_key(directory)
            except InvalidRequest:
                pass
            else:
                start, base = self.root.joinpath(*directory.split("/")), directory + "/"
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(start).as_posix()
            stem = base if rel == "." else f"{base}{rel}/"
            for name in filenames:
                if name.startswith(".") or name.endswith(SIDECAR_SUFFIX):
                    continue
                key = stem + name
                if key.startswith(prefix):
                    found.append(key)
        found.sort(key=lambda k: k.encode("utf-8", "surrogatepass"))  # S3's order
        yield from found


# -- S3Store -------------------------------------------------------------------------------------


def _error_code(exc: Exception) -> tuple[str, int]:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, status


_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_NO_LOCK_CODES = {"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"}


class S3Store:
    """An S3-compatible bucket with Object Lock (versioning on). Writes carry the retention
    as `ObjectLockMode`/`ObjectLockRetainUntilDate` and a SHA-256 checksum, with
    `If-None-Match: *` so an existing key is never replaced. The store's own lock is also
    Parley's record of the retention (read back before every change or deletion)."""

    # Whether an endpoint's server answers GetObjectRetention (moto 5.2.5's server does not:
    # it serves the object's bytes instead), learnt once per process and endpoint.
    _retention_api_by_endpoint: ClassVar[dict[str | None, bool]] = {}

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        client: Any = None,
        addressing_style: str = "path",
    ) -> None:
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                aws_access_key_id=access_key or None,
                aws_secret_access_key=secret_key or None,
                region_name=region or None,
                config=Config(
                    s3={"addressing_style": addressing_style},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        self.client = client
        if endpoint_url is None:
            self.endpoint_url = getattr(getattr(client, "meta", None), "endpoint_url", None)

    @property
    def _retention_api(self) -> bool | None:
        return self._retention_api_by_endpoint.get(self.endpoint_url)

    @_retention_api.setter
    def _retention_api(self, supported: bool) -> None:
        self._retention_api_by_endpoint[self.endpoint_url] = supported

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r}, endpoint_url={self.endpoint_url!r})"

    # errors

    def _fail(self, exc: Exception, key: str | None, action: str) -> StoreError:
        from botocore.exceptions import ClientError

        if not isinstance(exc, ClientError):
            return StoreError(
                f"Cannot reach the archive's object store ({self.endpoint_url or 'AWS S3'}) "
                f"to {action}: {exc}"
            )
        code, status = _error_code(exc)
        if key is not None and code in _MISSING_CODES:
            return ObjectMissing(key)
        if code == "NoSuchBucket":
            return StoreError(
                f"The archive bucket {self.bucket!r} does not exist; create it with Object "
                "Lock enabled (S3Store.ensure_bucket(), or `mc mb --with-lock`)."
            )
        if code in {"AccessDenied", "403"}:
            return StoreError(
                f"The object store denied access to {action} in bucket {self.bucket!r}: "
                "check the archive's S3 credentials and permissions."
            )
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        target = f" {key!r}" if key else ""
        return StoreError(
            f"The object store could not {action}{target} in bucket {self.bucket!r}: "
            f"{code or status} {message}".rstrip()
        )

    # the bucket

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if it is absent; refuse one without it."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code, status = _error_code(exc)
            if status != 404 and code not in {"404", "NoSuchBucket", "NotFound"}:
                raise self._fail(exc, None, "check the archive bucket") from exc
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
            if self.region and self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                self.client.create_bucket(**kwargs)
            except ClientError as create_exc:
                code, _ = _error_code(create_exc)
                if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise self._fail(create_exc, None, "create the archive bucket") from None
            else:
                log.info("Created archive bucket %s with Object Lock", self.bucket)
                return
        except BotoCoreError as exc:
            raise self._fail(exc, None, "check the archive bucket") from exc
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code not in _NO_LOCK_CODES:
                raise self._fail(exc, None, "read the bucket's Object Lock setting") from exc
            config = {}
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise StoreError(
                f"The archive bucket {self.bucket!r} exists without Object Lock, so it cannot "
                "keep archive files write-once; use a bucket created with Object Lock "
                "(`mc mb --with-lock`, or ObjectLockEnabledForBucket=True)."
            )

    # lock state

    def _retention(
        self, key: str, version_id: str | None, head: Mapping[str, Any]
    ) -> tuple[RetentionMode | None, dt.datetime | None]:
        from botocore.exceptions import ClientError

        mode: Any = head.get("ObjectLockMode")
        until: Any = head.get("ObjectLockRetainUntilDate")
        if self._retention_api is not False:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if version_id:
                kwargs["VersionId"] = version_id
            try:
                retention = self.client.get_object_retention(**kwargs).get("Retention", {})
                if self._retention_api is None:
                    self._retention_api = True
                mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
            except ClientError as exc:
                code, _ = _error_code(exc)
                if code in _NO_LOCK_CODES:
                    mode, until = None, None
                elif code in _MISSING_CODES:
                    raise ObjectMissing(key) from None
                elif code in {"500", "501", "NotImplemented"} and self._retention_api is None:
                    # An unparseable answer: the server lacks GetObjectRetention; the same
                    # fields come with HeadObject.
                    log.warning(
                        "%r: GetObjectRetention is not supported; reading retention from "
                        "HeadObject",
                        self,
                    )
                    self._retention_api = False
                else:
                    raise self._fail(exc, key, "read the retention of") from exc
        if not mode or not until:
            return None, None
        if isinstance(until, str):
            until = dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
        return _validate_mode(mode), until.astimezone(dt.UTC)

    def _legal_hold(self, key: str, version_id: str | None, head: Mapping[str, Any]) -> bool:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            status = self.client.get_object_legal_hold(**kwargs).get("LegalHold", {}).get("Status")
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code in _NO_LOCK_CODES:
                return False
            if code in _MISSING_CODES:
                raise ObjectMissing(key) from None
            raise self._fail(exc, key, "read the legal hold of") from exc
        if status is None:
            status = head.get("ObjectLockLegalHoldStatus")
        return status == "ON"

    def _head(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return dict(self.client.head_object(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "read") from exc

    def _info(self, key: str, version_id: str | None = None) -> tuple[ObjectInfo, str | None]:
        head = self._head(key, version_id)
        version_id = head.get("VersionId") or version_id
        mode, until = self._retention(key, version_id, head)
        info = ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            retain_until=until,
            mode=mode,
            legal_hold=self._legal_hold(key, version_id, head),
        )
        return info, version_id

    def _versions(self, key: str) -> tuple[list[str], list[str]]:
        """The version ids of `key`'s data and of its delete markers."""
        from botocore.exceptions import BotoCoreError, ClientError

        data: list[str] = []
        markers: list[str] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            for page in pages:
                data += [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == key]
                markers += [
                    m["VersionId"] for m in page.get("DeleteMarkers", []) if m["Key"] == key
                ]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "list the versions of") from exc
        return data, markers

    # the port

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: dt.datetime | None,
        mode: RetentionMode,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        mode = _validate_mode(mode)
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": data,
            "ChecksumAlgorithm": "SHA256",
            "IfNoneMatch": "*",
        }
        if retain_until is not None:
            kwargs["ObjectLockMode"] = mode
            kwargs["ObjectLockRetainUntilDate"] = _retain_until(retain_until)
        try:
            self.client.put_object(**kwargs)
        except ClientError as exc:
            code, status = _error_code(exc)
            if code in {"PreconditionFailed", "ConditionalRequestConflict"} or status == 412:
                raise ObjectExists(key) from None
            raise self._fail(exc, key, "write") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "write") from exc

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            body: bytes = response["Body"].read()  # botocore verifies the SHA-256 checksum
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "read") from exc
        return body

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        _check_range(offset, length)
        if length == 0:
            if not self.exists(key):
                raise ObjectMissing(key)
            return b""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            body: bytes = response["Body"].read()
        except ClientError as exc:
            code, status = _error_code(exc)
            if code == "InvalidRange" or status == 416:
                return b""  # the object exists; the range starts at or past its end
            raise self._fail(exc, key, "read") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "read") from exc
        return body

    def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            return int(self._head(key).get("ContentLength", 0))
        except ObjectMissing:
            return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return self._info(key)[0]

    def extend_retention(
        self,
        key: str,
        retain_until: dt.datetime,
        mode: RetentionMode,
        *,
        now: dt.datetime,
        bypass_governance: bool = False,
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        mode = _validate_mode(mode)
        until = _retain_until(retain_until)
        info, version_id = self._info(key)
        # Parley's own rule first: S3 servers differ (moto's lets COMPLIANCE be shortened).
        check_retention_change(info, until, mode, now=now, bypass_governance=bypass_governance)
        # Past Parley's rule, the store's GOVERNANCE lock (real time) may still need bypass.
        bypass = info.mode == "GOVERNANCE" and (
            mode != "GOVERNANCE" or (info.retain_until is not None and until < info.retain_until)
        )
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Retention": {"Mode": mode, "RetainUntilDate": until},
        }
        if version_id:
            kwargs["VersionId"] = version_id
        if bypass:
            kwargs["BypassGovernanceRetention"] = True
        try:
            self.client.put_object_retention(**kwargs)
        except ClientError as exc:
            code, _ = _error_code(exc)
            if code == "AccessDenied" and info.retain_until is not None:
                raise RetentionLocked(
                    f"Archive object {key!r}: the object store's own {info.mode} lock holds "
                    f"its retention until {_iso(info.retain_until)} (real time) and refused "
                    f"to change it to {mode} until {_iso(until)}.",
                    key=key,
                    retain_until=info.retain_until,
                    mode=info.mode,
                    by_store=True,
                ) from None
            raise self._fail(exc, key, "set the retention of") from exc
        except BotoCoreError as exc:
            raise self._fail(exc, key, "set the retention of") from exc

    def set_legal_hold(self, key: str, on: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        version_id = self._head(key).get("VersionId")  # ObjectMissing if absent
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "LegalHold": {"Status": "ON" if on else "OFF"},
        }
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            self.client.put_object_legal_hold(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key, "set the legal hold of") from exc

    def delete(self, key: str, *, now: dt.datetime, bypass_governance: bool = False) -> None:
        """Delete every version of the object (a plain DELETE on a versioned bucket only
        adds a delete marker and keeps the data), then its delete markers."""
        from botocore.exceptions import BotoCoreError, ClientError

        validate_key(key)
        now = _aware(now, "now")
        versions, markers = self._versions(key)
        if not versions:
            raise ObjectMissing(key)
        infos = [self._info(key, version_id) for version_id in versions]
        for info, _ in infos:  # Parley's rule for every version before deleting any
            check_delete(info, now=now, bypass_governance=bypass_governance)
        for info, version_id in infos:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "VersionId": version_id}
            if info.mode == "GOVERNANCE":
                # Parley allowed it (retention over on the simulation clock, or bypass);
                # the store's lock runs on real time and would still hold it.
                kwargs["BypassGovernanceRetention"] = True
            try:
                self.client.delete_object(**kwargs)
            except ClientError as exc:
                code, _ = _error_code(exc)
                if code != "AccessDenied":
                    raise self._fail(exc, key, "delete") from exc
                if info.mode == "COMPLIANCE" and info.retain_until is not None:
                    raise RetentionLocked(
                        f"Archive object {key!r}: its retention has ended in simulation "
                        "time, but the object store's own COMPLIANCE lock holds it until "
                        f"{_iso(info.retain_until)} (real time) and nothing can lift it "
                        "earlier; record the purge as pending at the store and retry after "
                        "that date.",
                        key=key,
                        retain_until=info.retain_until,
                        mode="COMPLIANCE",
                        by_store=True,
                    ) from None
                raise RetentionLocked(
                    f"Archive object {key!r}: the object store refused the deletion (Access "
                    "Denied): a legal hold set at the store, or credentials without the "
                    "s3:DeleteObjectVersion / s3:BypassGovernanceRetention permission.",
                    key=key,
                    retain_until=info.retain_until,
                    mode=info.mode,
                    by_store=True,
                ) from None
            except BotoCoreError as exc:
                raise self._fail(exc, key, "delete") from exc
        for version_id in markers:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, key, "delete a delete marker of") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, None, "list the keys") from exc


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
