"""Helpers to turn state into JSON-safe dicts and back, with precise errors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from .errors import InvalidStateError

JsonDict = dict[str, object]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidStateError("expected a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidStateError("invalid base64") from exc


def get_int(data: Mapping[str, object], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidStateError(f"field {key!r} must be an integer")
    return value


def get_opt_int(data: Mapping[str, object], key: str) -> int | None:
    return None if data.get(key) is None else get_int(data, key)


def get_bytes(data: Mapping[str, object], key: str) -> bytes:
    if key not in data:
        raise InvalidStateError(f"missing field {key!r}")
    return unb64(data[key])


def get_opt_bytes(data: Mapping[str, object], key: str) -> bytes | None:
    return None if data.get(key) is None else get_bytes(data, key)


def get_str(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidStateError(f"field {key!r} must be a string")
    return value


def get_dict(data: Mapping[str, object], key: str) -> JsonDict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InvalidStateError(f"field {key!r} must be an object")
    return value


def get_list(data: Mapping[str, object], key: str) -> list[object]:
    value = data.get(key)
    if not isinstance(value, list):
        raise InvalidStateError(f"field {key!r} must be a list")
    return value


def as_dict(value: object) -> JsonDict:
    if not isinstance(value, dict):
        raise InvalidStateError("expected an object")
    return value


def check_version(data: Mapping[str, object], kind: str, supported: int) -> None:
    """Reject state written by a newer (or unknown) format version."""
    if data.get("kind") != kind:
        raise InvalidStateError(f"expected {kind!r} state")
    if get_int(data, "v") != supported:
        raise InvalidStateError(f"unsupported {kind} state version {data.get('v')!r}")


def get_bool(data: Mapping[str, object], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise InvalidStateError(f"field {key!r} must be a boolean")
    return value
