"""The archive store's port, its errors and the rules every backend enforces (keys,
retention changes, deletion) against the simulation clock the caller passes in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from parley.core.errors import ParleyError

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
