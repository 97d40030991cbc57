"""What a client device keeps: the protocol store plus its relay credential, key-id counters,
message history, identity-change notices and health counters.

:class:`DeviceState` is the port; :class:`InMemoryDeviceState` is for unit use and the Django
adapter is :class:`e2ee.store.DjangoDeviceState`."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from e2ee.protocol import (
    IdentityChange,
    InMemoryProtocolStore,
    ProtocolAddress,
    ProtocolStore,
)


@dataclass
class HistoryItem:
    """One message in a device's history (plaintext: the device is an endpoint)."""

    direction: str  # "in" | "out"
    peer: str
    peer_device_id: int
    guid: str
    kind: str  # "text" | "media" | "undecryptable"
    body: str
    status: str  # sent, delivered, read, expired, received, failed
    client_timestamp: int
    attachment: dict[str, Any] | None = None
    # What a text answers: {"id": the message replied to} and/or {"payload": a tapped
    # suggestion's id}.
    context: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryItem:
        return cls(
            direction=str(data["direction"]),
            peer=str(data["peer"]),
            peer_device_id=int(data["peer_device_id"]),
            guid=str(data["guid"]),
            kind=str(data["kind"]),
            body=str(data["body"]),
            status=str(data["status"]),
            client_timestamp=int(data["client_timestamp"]),
            attachment=data.get("attachment"),
            context=data.get("context") if isinstance(data.get("context"), dict) else None,
        )


@dataclass
class Health:
    key_agreements: int = 0
    key_agreement_failures: int = 0
    decryptions: int = 0
    decryption_failures: int = 0


class DeviceState(ProtocolStore, Protocol):
    """A :class:`ProtocolStore` plus the app-level state a Signal client keeps."""

    e164: str
    device_id: int

    def atomic(self) -> AbstractContextManager[Any]:
        """One unit of work: each protocol call plus its bookkeeping."""
        ...

    def get_credential(self) -> tuple[str, str] | None:
        """(relay base URL, "<e164>.<id>:<password>") once registered."""
        ...

    def set_credential(self, relay_url: str, credential: str) -> None: ...

    def allocate_key_ids(self, kind: str, count: int) -> int:
        """Reserve ``count`` consecutive ids of ``kind`` ("ec", "kyber", "signed")."""
        ...

    def get_active_signed_pre_key_id(self) -> int | None: ...

    def set_active_signed_pre_key_id(self, key_id: int) -> None: ...

    def session_device_ids(self, name: str) -> list[int]: ...

    def delete_session(self, address: ProtocolAddress) -> None: ...

    def add_message(self, item: HistoryItem) -> None: ...

    def set_message_status(self, guid: str, status: str) -> bool: ...

    def list_messages(self, peer: str | None = None) -> list[HistoryItem]: ...

    def list_identity_changes(self) -> list[IdentityChange]: ...

    def count(
        self,
        *,
        key_agreements: int = 0,
        key_agreement_failures: int = 0,
        decryptions: int = 0,
        decryption_failures: int = 0,
    ) -> None: ...

    def get_health(self) -> Health: ...

    def export_store(self) -> InMemoryProtocolStore:
        """The protocol state as an in-memory store (what a backup carries)."""
        ...


# Status only moves forward: a late delivery receipt never downgrades "read".
STATUS_RANK = {"sent": 0, "delivered": 1, "read": 2, "expired": 1}


@dataclass
class InMemoryDeviceState(InMemoryProtocolStore):
    e164: str = ""
    device_id: int = 1
    credential: tuple[str, str] | None = None
    next_ids: dict[str, int] = field(default_factory=lambda: {"ec": 1, "kyber": 1, "signed": 1})
    active_signed_pre_key_id: int | None = None
    history: list[HistoryItem] = field(default_factory=list)
    health: Health = field(default_factory=Health)

    def atomic(self) -> AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def get_credential(self) -> tuple[str, str] | None:
        return self.credential

    def set_credential(self, relay_url: str, credential: str) -> None:
        self.credential = (relay_url, credential)

    def allocate_key_ids(self, kind: str, count: int) -> int:
        start = self.next_ids[kind]
        self.next_ids[kind] = start + count
        return start

    def get_active_signed_pre_key_id(self) -> int | None:
        return self.active_signed_pre_key_id

    def set_active_signed_pre_key_id(self, key_id: int) -> None:
        self.active_signed_pre_key_id = key_id

    def session_device_ids(self, name: str) -> list[int]:
        return sorted(a.device_id for a in self.sessions if a.name == name)

    def delete_session(self, address: ProtocolAddress) -> None:
        self.sessions.pop(address, None)

    def add_message(self, item: HistoryItem) -> None:
        self.history.append(item)

    def set_message_status(self, guid: str, status: str) -> bool:
        for item in self.history:
            if item.guid == guid and item.direction == "out":
                if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(item.status, 0):
                    item.status = status
                return True
        return False

    def list_messages(self, peer: str | None = None) -> list[HistoryItem]:
        return [m for m in self.history if peer is None or m.peer == peer]

    def list_identity_changes(self) -> list[IdentityChange]:
        return list(self.identity_changes)

    def count(
        self,
        *,
        key_agreements: int = 0,
        key_agreement_failures: int = 0,
        decryptions: int = 0,
        decryption_failures: int = 0,
    ) -> None:
        self.health.key_agreements += key_agreements
        self.health.key_agreement_failures += key_agreement_failures
        self.health.decryptions += decryptions
        self.health.decryption_failures += decryption_failures

    def get_health(self) -> Health:
        return self.health

    def export_store(self) -> InMemoryProtocolStore:
        return InMemoryProtocolStore.from_dict(self.to_dict())
