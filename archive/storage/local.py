"""The local filesystem store: write-once files, read-only on disk, retention and legal
holds in a sidecar beside each object."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from archive.storage.base import (
    SIDECAR_SUFFIX,
    InvalidRequest,
    ObjectExists,
    ObjectInfo,
    ObjectMissing,
    RetentionMode,
    StoreError,
    _check_range,
    _retain_until,
    _validate_mode,
    check_delete,
    check_retention_change,
    validate_key,
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
