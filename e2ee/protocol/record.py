"""A session record: the current session with a peer plus a few archived ones.

Archived states let late messages from a replaced session still decrypt (e.g. both
sides started a session at once), as libsignal's ``SessionRecord`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import InvalidStateError
from .jsonsafe import JsonDict, as_dict, check_version, get_list
from .keys import PublicKey
from .ratchet import SessionState

SESSION_RECORD_FORMAT_VERSION = 1
ARCHIVED_STATES_MAX_LENGTH = 40


@dataclass
class SessionRecord:
    current: SessionState | None = None
    previous: list[SessionState] = field(default_factory=list)

    def promote(self, state: SessionState) -> SessionRecord:
        """A new record with ``state`` current and the old current archived."""
        previous = list(self.previous)
        if self.current is not None:
            previous.insert(0, self.current)
        return SessionRecord(state, previous[:ARCHIVED_STATES_MAX_LENGTH])

    def with_state(self, index: int | None, state: SessionState) -> SessionRecord:
        """A new record where the state that decrypted (current, or archived ``index``) leads."""
        if index is None:
            return SessionRecord(state, list(self.previous))
        previous = [s for i, s in enumerate(self.previous) if i != index]
        return SessionRecord(self.current, previous).promote(state)

    def find_matching(self, version: int, base_key: PublicKey) -> int | None:
        """Index (-1 for current) of the state created from this base key, if any."""
        if (
            self.current is not None
            and self.current.version == version
            and self.current.alice_base_key == base_key
        ):
            return -1
        for index, state in enumerate(self.previous):
            if state.version == version and state.alice_base_key == base_key:
                return index
        return None

    def to_dict(self) -> JsonDict:
        return {
            "kind": "session_record",
            "v": SESSION_RECORD_FORMAT_VERSION,
            "current": None if self.current is None else self.current.to_dict(),
            "previous": [state.to_dict() for state in self.previous],
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> SessionRecord:
        check_version(data, "session_record", SESSION_RECORD_FORMAT_VERSION)
        try:
            current_raw = data.get("current")
            current = None if current_raw is None else SessionState.from_dict(as_dict(current_raw))
            previous = [
                SessionState.from_dict(as_dict(item)) for item in get_list(data, "previous")
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidStateError("corrupt session record") from exc
        return cls(current, previous)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionRecord:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidStateError("session record is not valid JSON") from exc
        return cls.from_dict(as_dict(raw))
