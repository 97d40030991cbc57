"""The storage port the protocol needs, and an in-memory adapter.

:class:`ProtocolStore` is deliberately narrow: the protocol only ever loads and
saves whole records by id or address. An adapter (the Django one, or the in-memory
one here) decides how to persist them; every record has ``to_bytes``/``from_bytes``
(versioned JSON) for adapters that store blobs.

Atomicity: ``decrypt`` of a pre-key message may write the identity, the session and
remove a pre-key in one call. A database adapter should run each high-level call
(``start_session``, ``encrypt``, ``decrypt``) inside one transaction; the protocol
only writes after a message has authenticated, so a failed call writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from .address import ProtocolAddress
from .errors import InvalidStateError
from .jsonsafe import (
    JsonDict,
    as_dict,
    b64,
    check_version,
    get_bytes,
    get_dict,
    get_int,
    get_list,
    get_str,
)
from .keys import IdentityKey, IdentityKeyPair, KeyPair, PublicKey
from .prekeys import KyberPreKeyRecord, PreKeyRecord, SignedPreKeyRecord
from .record import SessionRecord

STORE_FORMAT_VERSION = 1


class Direction(Enum):
    SENDING = "sending"
    RECEIVING = "receiving"


class IdentityPolicy(Enum):
    """What to do when a known peer shows up with a different identity key."""

    #: Refuse (``UntrustedIdentityError``) until the app saves the new key (libsignal's default).
    STRICT = "strict"
    #: Accept the new key and report it as changed, so the app shows a notice (WhatsApp-style).
    NOTIFY = "notify"


class ProtocolStore(Protocol):
    """Everything the protocol reads or writes. Implement all of it for a new backend."""

    def get_identity_key_pair(self) -> IdentityKeyPair:
        """This device's long-term identity key pair."""
        ...

    def get_local_registration_id(self) -> int:
        """This device's registration id (1..16380)."""
        ...

    def is_trusted_identity(
        self, address: ProtocolAddress, identity_key: IdentityKey, direction: Direction
    ) -> bool:
        """May we talk to ``address`` holding ``identity_key``? (True for a first contact.)"""
        ...

    def save_identity(self, address: ProtocolAddress, identity_key: IdentityKey) -> bool:
        """Remember ``identity_key`` for ``address``; True when it replaced a different key."""
        ...

    def get_identity(self, address: ProtocolAddress) -> IdentityKey | None:
        """The identity key last saved for ``address``."""
        ...

    def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None: ...

    def store_pre_key(self, record: PreKeyRecord) -> None: ...

    def remove_pre_key(self, pre_key_id: int) -> None: ...

    def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None: ...

    def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None: ...

    def load_kyber_pre_key(self, kyber_pre_key_id: int) -> KyberPreKeyRecord | None: ...

    def store_kyber_pre_key(self, record: KyberPreKeyRecord) -> None: ...

    def mark_kyber_pre_key_used(self, kyber_pre_key_id: int) -> None:
        """Delete a one-time Kyber pre-key after use; keep a last-resort one."""
        ...

    def load_session(self, address: ProtocolAddress) -> SessionRecord | None: ...

    def store_session(self, address: ProtocolAddress, record: SessionRecord) -> None: ...


@dataclass(frozen=True)
class IdentityChange:
    """A peer's identity key changed: show the user a safety-number-changed notice."""

    address: ProtocolAddress
    old_key: IdentityKey
    new_key: IdentityKey


@dataclass
class InMemoryProtocolStore:
    """A :class:`ProtocolStore` in dictionaries, for tests, simulations and backups."""

    identity_key_pair: IdentityKeyPair
    registration_id: int
    policy: IdentityPolicy = IdentityPolicy.NOTIFY
    identities: dict[ProtocolAddress, IdentityKey] = field(default_factory=dict)
    pre_keys: dict[int, PreKeyRecord] = field(default_factory=dict)
    signed_pre_keys: dict[int, SignedPreKeyRecord] = field(default_factory=dict)
    kyber_pre_keys: dict[int, KyberPreKeyRecord] = field(default_factory=dict)
    sessions: dict[ProtocolAddress, SessionRecord] = field(default_factory=dict)
    #: Every identity change seen by ``save_identity``, oldest first.
    identity_changes: list[IdentityChange] = field(default_factory=list)

    def get_identity_key_pair(self) -> IdentityKeyPair:
        return self.identity_key_pair

    def get_local_registration_id(self) -> int:
        return self.registration_id

    def is_trusted_identity(
        self, address: ProtocolAddress, identity_key: IdentityKey, direction: Direction
    ) -> bool:
        known = self.identities.get(address)
        if known is None or known == identity_key:
            return True
        return self.policy is IdentityPolicy.NOTIFY

    def save_identity(self, address: ProtocolAddress, identity_key: IdentityKey) -> bool:
        known = self.identities.get(address)
        self.identities[address] = identity_key
        if known is not None and known != identity_key:
            self.identity_changes.append(IdentityChange(address, known, identity_key))
            return True
        return False

    def get_identity(self, address: ProtocolAddress) -> IdentityKey | None:
        return self.identities.get(address)

    def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None:
        return self.pre_keys.get(pre_key_id)

    def store_pre_key(self, record: PreKeyRecord) -> None:
        self.pre_keys[record.key_id] = record

    def remove_pre_key(self, pre_key_id: int) -> None:
        self.pre_keys.pop(pre_key_id, None)

    def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None:
        return self.signed_pre_keys.get(signed_pre_key_id)

    def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None:
        self.signed_pre_keys[record.key_id] = record

    def load_kyber_pre_key(self, kyber_pre_key_id: int) -> KyberPreKeyRecord | None:
        return self.kyber_pre_keys.get(kyber_pre_key_id)

    def store_kyber_pre_key(self, record: KyberPreKeyRecord) -> None:
        self.kyber_pre_keys[record.key_id] = record

    def mark_kyber_pre_key_used(self, kyber_pre_key_id: int) -> None:
        record = self.kyber_pre_keys.get(kyber_pre_key_id)
        if record is not None and not record.last_resort:
            del self.kyber_pre_keys[kyber_pre_key_id]

    def load_session(self, address: ProtocolAddress) -> SessionRecord | None:
        return self.sessions.get(address)

    def store_session(self, address: ProtocolAddress, record: SessionRecord) -> None:
        self.sessions[address] = record

    # Versioned, JSON-safe export: what backups carry and tests compare.

    def to_dict(self) -> JsonDict:
        return {
            "kind": "protocol_store",
            "v": STORE_FORMAT_VERSION,
            "identity_key_pair": self.identity_key_pair.to_dict(),
            "registration_id": self.registration_id,
            "policy": self.policy.value,
            "identities": [
                {"name": a.name, "device_id": a.device_id, "key": b64(k.serialize())}
                for a, k in sorted(self.identities.items())
            ],
            "pre_keys": [r.to_dict() for _, r in sorted(self.pre_keys.items())],
            "signed_pre_keys": [r.to_dict() for _, r in sorted(self.signed_pre_keys.items())],
            "kyber_pre_keys": [r.to_dict() for _, r in sorted(self.kyber_pre_keys.items())],
            "sessions": [
                {"name": a.name, "device_id": a.device_id, "record": r.to_dict()}
                for a, r in sorted(self.sessions.items(), key=lambda item: item[0])
            ],
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> InMemoryProtocolStore:
        check_version(data, "protocol_store", STORE_FORMAT_VERSION)
        try:
            policy = IdentityPolicy(get_str(data, "policy"))
        except ValueError as exc:
            raise InvalidStateError("unknown identity policy") from exc
        store = cls(
            KeyPair.from_dict(get_dict(data, "identity_key_pair")),
            get_int(data, "registration_id"),
            policy,
        )
        for raw in get_list(data, "identities"):
            item = as_dict(raw)
            address = ProtocolAddress(get_str(item, "name"), get_int(item, "device_id"))
            store.identities[address] = PublicKey.deserialize(get_bytes(item, "key"))
        for raw in get_list(data, "pre_keys"):
            store.store_pre_key(PreKeyRecord.from_dict(as_dict(raw)))
        for raw in get_list(data, "signed_pre_keys"):
            store.store_signed_pre_key(SignedPreKeyRecord.from_dict(as_dict(raw)))
        for raw in get_list(data, "kyber_pre_keys"):
            store.store_kyber_pre_key(KyberPreKeyRecord.from_dict(as_dict(raw)))
        for raw in get_list(data, "sessions"):
            item = as_dict(raw)
            address = ProtocolAddress(get_str(item, "name"), get_int(item, "device_id"))
            store.sessions[address] = SessionRecord.from_dict(get_dict(item, "record"))
        return store

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> InMemoryProtocolStore:
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidStateError("store export is not valid JSON") from exc
        return cls.from_dict(as_dict(raw))
