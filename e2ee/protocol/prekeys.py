"""Pre-key records (what a device keeps) and the pre-key bundle (what it publishes).

Key generation helpers live here too. Timestamps are always parameters: the caller
owns the clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import InvalidStateError
from .jsonsafe import JsonDict, as_dict, b64, check_version, get_bool, get_bytes, get_dict, get_int
from .keys import IdentityKey, IdentityKeyPair, KemKeyPair, KemPublicKey, KeyPair, PublicKey

RECORD_FORMAT_VERSION = 1
# libsignal wraps pre-key ids below 2^24 ("Medium.MAX_VALUE") and never uses 0.
MAX_PRE_KEY_ID = 0xFFFFFF


def _dump(data: JsonDict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _load(data: bytes) -> JsonDict:
    try:
        return as_dict(json.loads(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidStateError("record is not valid JSON") from exc


@dataclass(frozen=True)
class PreKeyRecord:
    """A one-time EC pre-key."""

    key_id: int
    key_pair: KeyPair

    def to_dict(self) -> JsonDict:
        return {
            "kind": "pre_key",
            "v": RECORD_FORMAT_VERSION,
            "id": self.key_id,
            **self.key_pair.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> PreKeyRecord:
        check_version(data, "pre_key", RECORD_FORMAT_VERSION)
        return cls(get_int(data, "id"), KeyPair.from_dict(data))

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> PreKeyRecord:
        return cls.from_dict(_load(data))


@dataclass(frozen=True)
class SignedPreKeyRecord:
    """A medium-term EC pre-key signed (XEdDSA) by the identity key."""

    key_id: int
    timestamp: int
    key_pair: KeyPair
    signature: bytes

    def to_dict(self) -> JsonDict:
        return {
            "kind": "signed_pre_key",
            "v": RECORD_FORMAT_VERSION,
            "id": self.key_id,
            "timestamp": self.timestamp,
            "signature": b64(self.signature),
            **self.key_pair.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> SignedPreKeyRecord:
        check_version(data, "signed_pre_key", RECORD_FORMAT_VERSION)
        return cls(
            get_int(data, "id"),
            get_int(data, "timestamp"),
            KeyPair.from_dict(data),
            get_bytes(data, "signature"),
        )

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedPreKeyRecord:
        return cls.from_dict(_load(data))


@dataclass(frozen=True)
class KyberPreKeyRecord:
    """An ML-KEM-1024 pre-key signed by the identity key.

    One-time Kyber pre-keys are deleted after use; a *last-resort* key is kept and
    reused when the server has run out of one-time keys.
    """

    key_id: int
    timestamp: int
    key_pair: KemKeyPair
    signature: bytes
    last_resort: bool = False

    def to_dict(self) -> JsonDict:
        return {
            "kind": "kyber_pre_key",
            "v": RECORD_FORMAT_VERSION,
            "id": self.key_id,
            "timestamp": self.timestamp,
            "signature": b64(self.signature),
            "last_resort": self.last_resort,
            "key_pair": self.key_pair.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> KyberPreKeyRecord:
        check_version(data, "kyber_pre_key", RECORD_FORMAT_VERSION)
        return cls(
            get_int(data, "id"),
            get_int(data, "timestamp"),
            KemKeyPair.from_dict(get_dict(data, "key_pair")),
            get_bytes(data, "signature"),
            get_bool(data, "last_resort"),
        )

    def to_bytes(self) -> bytes:
        return _dump(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> KyberPreKeyRecord:
        return cls.from_dict(_load(data))


@dataclass(frozen=True)
class PreKeyBundle:
    """What a device publishes so others can start a session with it offline.

    Without the Kyber fields the session is X3DH (message version 3); with them it
    is PQXDH (version 4).
    """

    registration_id: int
    device_id: int
    signed_pre_key_id: int
    signed_pre_key: PublicKey
    signed_pre_key_signature: bytes
    identity_key: IdentityKey
    pre_key_id: int | None = None
    pre_key: PublicKey | None = None
    kyber_pre_key_id: int | None = None
    kyber_pre_key: KemPublicKey | None = None
    kyber_pre_key_signature: bytes | None = None

    @property
    def has_kyber(self) -> bool:
        return self.kyber_pre_key is not None


def generate_identity_key_pair() -> IdentityKeyPair:
    return KeyPair.generate()


def generate_pre_keys(start: int, count: int) -> list[PreKeyRecord]:
    """``count`` one-time pre-keys with consecutive ids from ``start`` (wrapping)."""
    return [
        PreKeyRecord(((start + offset - 1) % (MAX_PRE_KEY_ID - 1)) + 1, KeyPair.generate())
        for offset in range(count)
    ]


def generate_signed_pre_key(
    identity: IdentityKeyPair, key_id: int, timestamp: int
) -> SignedPreKeyRecord:
    pair = KeyPair.generate()
    signature = identity.private_key.sign(pair.public_key.serialize())
    return SignedPreKeyRecord(key_id, timestamp, pair, signature)


def generate_kyber_pre_key(
    identity: IdentityKeyPair, key_id: int, timestamp: int, *, last_resort: bool = False
) -> KyberPreKeyRecord:
    pair = KemKeyPair.generate()
    signature = identity.private_key.sign(pair.public_key.serialize())
    return KyberPreKeyRecord(key_id, timestamp, pair, signature, last_resort)


def generate_last_resort_kyber_pre_key(
    identity: IdentityKeyPair, key_id: int, timestamp: int
) -> KyberPreKeyRecord:
    return generate_kyber_pre_key(identity, key_id, timestamp, last_resort=True)
