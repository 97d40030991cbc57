"""Curve25519 and ML-KEM-1024 keys, serialised the way libsignal does.

* EC public keys: 33 bytes, type byte ``0x05`` then the X25519 u-coordinate.
* KEM public keys and ciphertexts: type byte ``0x08`` then the raw ML-KEM-1024 bytes.
* Private keys are clamped on load, as libsignal's ``PrivateKey::deserialize`` does,
  so XEdDSA signs with the same scalar X25519 uses.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from . import xeddsa
from .errors import InvalidKeyError
from .jsonsafe import JsonDict, b64, get_bytes

DJB_TYPE = 0x05
KEM_TYPE_KYBER1024 = 0x08
EC_KEY_LENGTH = 32
KEM_PUBLIC_KEY_LENGTH = 1568
KEM_CIPHERTEXT_LENGTH = 1568
KEM_SEED_LENGTH = 64


def clamp(raw: bytes) -> bytes:
    key = bytearray(raw)
    key[0] &= 0xF8
    key[31] &= 0x7F
    key[31] |= 0x40
    return bytes(key)


@dataclass(frozen=True)
class PublicKey:
    """An X25519 public key (the raw 32-byte u-coordinate)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != EC_KEY_LENGTH:
            raise InvalidKeyError("X25519 public keys are 32 bytes")

    def serialize(self) -> bytes:
        return bytes([DJB_TYPE]) + self.raw

    @classmethod
    def deserialize(cls, data: bytes) -> PublicKey:
        if not data:
            raise InvalidKeyError("empty public key")
        if data[0] != DJB_TYPE:
            raise InvalidKeyError(f"unknown key type 0x{data[0]:02x}")
        if len(data) != 1 + EC_KEY_LENGTH:
            raise InvalidKeyError("serialised public keys are 33 bytes")
        # X25519 ignores the top bit and reduces mod p, so other encodings of a key would
        # agree on the same secret: only the canonical one is a key (a flipped bit is not).
        if int.from_bytes(data[1:], "little") >= _P25519:
            raise InvalidKeyError("non-canonical X25519 public key")
        return cls(bytes(data[1:]))

    def verify_signature(self, message: bytes, signature: bytes) -> bool:
        return xeddsa.verify(self.raw, message, signature)


_P25519 = 2**255 - 19

# An identity key is serialised exactly like any other public key.
IdentityKey = PublicKey


@dataclass(frozen=True)
class PrivateKey:
    """An X25519 private key, stored clamped."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != EC_KEY_LENGTH:
            raise InvalidKeyError("X25519 private keys are 32 bytes")
        object.__setattr__(self, "raw", clamp(self.raw))

    def _loaded(self) -> X25519PrivateKey:
        # Loading a key computes its public point: once per key, on its first use (a
        # session read from storage holds keys that most messages never agree with).
        key: X25519PrivateKey | None = self.__dict__.get("_key")
        if key is None:
            key = X25519PrivateKey.from_private_bytes(self.raw)
            object.__setattr__(self, "_key", key)
        return key

    def public_key(self) -> PublicKey:
        return PublicKey(self._loaded().public_key().public_bytes_raw())

    def agree(self, their_key: PublicKey) -> bytes:
        """X25519; a degenerate (small-order) peer key is an :class:`InvalidKeyError`."""
        try:
            return self._loaded().exchange(X25519PublicKey.from_public_bytes(their_key.raw))
        except ValueError as exc:
            raise InvalidKeyError("degenerate X25519 public key") from exc

    def sign(self, message: bytes, random: bytes | None = None) -> bytes:
        return xeddsa.sign(self.raw, message, random)

    def __repr__(self) -> str:
        return "PrivateKey(<redacted>)"


@dataclass(frozen=True)
class KeyPair:
    public_key: PublicKey
    private_key: PrivateKey

    @classmethod
    def generate(cls) -> KeyPair:
        private = PrivateKey(os.urandom(EC_KEY_LENGTH))
        return cls(private.public_key(), private)

    @classmethod
    def from_private(cls, raw: bytes) -> KeyPair:
        private = PrivateKey(raw)
        return cls(private.public_key(), private)

    def to_dict(self) -> JsonDict:
        return {"public": b64(self.public_key.serialize()), "private": b64(self.private_key.raw)}

    @classmethod
    def from_dict(cls, data: JsonDict) -> KeyPair:
        return cls(
            PublicKey.deserialize(get_bytes(data, "public")),
            PrivateKey(get_bytes(data, "private")),
        )


# The long-term identity key pair has the same shape as any key pair.
IdentityKeyPair = KeyPair


@dataclass(frozen=True)
class KemPublicKey:
    """An ML-KEM-1024 public key (raw 1,568 bytes; serialised with type byte 0x08)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEM_PUBLIC_KEY_LENGTH:
            raise InvalidKeyError("ML-KEM-1024 public keys are 1568 bytes")

    def serialize(self) -> bytes:
        return bytes([KEM_TYPE_KYBER1024]) + self.raw

    @classmethod
    def deserialize(cls, data: bytes) -> KemPublicKey:
        if not data or data[0] != KEM_TYPE_KYBER1024:
            raise InvalidKeyError("unknown KEM key type")
        if len(data) != 1 + KEM_PUBLIC_KEY_LENGTH:
            raise InvalidKeyError("bad KEM public key length")
        return cls(bytes(data[1:]))

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Return ``(shared_secret, serialised_ciphertext)``."""
        try:
            key = mlkem.MLKEM1024PublicKey.from_public_bytes(self.raw)
        except ValueError as exc:
            raise InvalidKeyError("invalid ML-KEM-1024 public key") from exc
        shared, ciphertext = key.encapsulate()
        return shared, bytes([KEM_TYPE_KYBER1024]) + ciphertext


@dataclass(frozen=True)
class KemKeyPair:
    """An ML-KEM-1024 key pair, kept as its 64-byte FIPS 203 seed (d || z)."""

    public_key: KemPublicKey
    seed: bytes

    @classmethod
    def generate(cls) -> KemKeyPair:
        return cls.from_seed(os.urandom(KEM_SEED_LENGTH))

    @classmethod
    def from_seed(cls, seed: bytes) -> KemKeyPair:
        if len(seed) != KEM_SEED_LENGTH:
            raise InvalidKeyError("ML-KEM seeds are 64 bytes")
        private = mlkem.MLKEM1024PrivateKey.from_seed_bytes(seed)
        return cls(KemPublicKey(private.public_key().public_bytes_raw()), seed)

    def decapsulate(self, serialized_ciphertext: bytes) -> bytes:
        if (
            len(serialized_ciphertext) != 1 + KEM_CIPHERTEXT_LENGTH
            or serialized_ciphertext[0] != KEM_TYPE_KYBER1024
        ):
            raise InvalidKeyError("bad KEM ciphertext")
        private = mlkem.MLKEM1024PrivateKey.from_seed_bytes(self.seed)
        try:
            return private.decapsulate(serialized_ciphertext[1:])
        except ValueError as exc:
            raise InvalidKeyError("bad KEM ciphertext") from exc

    def to_dict(self) -> JsonDict:
        return {"public": b64(self.public_key.serialize()), "seed": b64(self.seed)}

    @classmethod
    def from_dict(cls, data: JsonDict) -> KemKeyPair:
        pair = cls.from_seed(get_bytes(data, "seed"))
        if pair.public_key.serialize() != get_bytes(data, "public"):
            raise InvalidKeyError("KEM public key does not match its seed")
        return pair

    def __repr__(self) -> str:
        return f"KemKeyPair(public_key=<{len(self.public_key.raw)} bytes>, seed=<redacted>)"


def generate_registration_id() -> int:
    """A random registration id in libsignal's range 1..16380."""
    return secrets.randbelow(16380) + 1
