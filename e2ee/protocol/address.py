"""Who a session is with: a user name plus one of their devices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ProtocolAddress:
    """A peer device, as libsignal's ``ProtocolAddress`` (name + device id)."""

    name: str
    device_id: int = 1

    def __str__(self) -> str:
        return f"{self.name}.{self.device_id}"
