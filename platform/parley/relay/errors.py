"""Relay errors: the ParleyError hierarchy plus the device-list mismatches a sender can fix
by refreshing its view of the recipient's devices (Signal's 409 and 410)."""

from __future__ import annotations

from typing import Any

from parley.core.errors import Conflict, ParleyError


class DeviceMismatch(Conflict):
    """The message list does not cover exactly the recipient's registered devices."""

    subcode = 2494101

    def __init__(self, *, missing: list[int], extra: list[int]) -> None:
        parts = []
        if missing:
            parts.append(f"missing devices {missing}")
        if extra:
            parts.append(f"extra devices {extra}")
        super().__init__("Device list mismatch: " + ", ".join(parts) + ".", field="messages")
        self.missing = missing
        self.extra = extra

    def error_data(self) -> dict[str, Any]:
        return {"missing_devices": self.missing, "extra_devices": self.extra}


class StaleDevices(ParleyError):
    """Some devices were re-registered since the sender fetched their keys."""

    http_status = 410
    code = 100
    subcode = 2494102

    def __init__(self, *, stale: list[int]) -> None:
        super().__init__(
            f"Stale devices {stale}: their registration ids changed; fetch their keys again.",
            field="messages",
        )
        self.stale = stale

    def error_data(self) -> dict[str, Any]:
        return {"stale_devices": self.stale}


class RegistrationLocked(ParleyError):
    """Re-registering the primary device of a number with Registration Lock needs its PIN."""

    http_status = 423
    code = 100
    subcode = 2494103

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"{e164} has Registration Lock: re-registering it needs the number's PIN "
            "(`registration_lock`).",
            field="registration_lock",
        )


class VerificationRequired(ParleyError):
    """Registering a handset number's primary device needs a verification session in which
    the client proved, with the code texted to the number, that it controls the number."""

    http_status = 403
    code = 10
    subcode = 2494104

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"Registering {e164} needs a verified session (`session_id`): start one at "
            "/relay/v1/verification/session, request a code by SMS and submit it.",
            field="session_id",
        )
