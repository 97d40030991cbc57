"""Strict shape checks for keys and envelopes: exact sizes and type bytes."""

from __future__ import annotations

import re

from e2ee.protocol import xeddsa
from parley.core.errors import InvalidParameter

DJB_TYPE = 0x05  # Curve25519 public key
KYBER_1024_TYPE = 0x08  # ML-KEM-1024 public key
EC_PUBLIC_KEY_LEN = 33
KEM_PUBLIC_KEY_LEN = 1 + 1568
SIGNATURE_LEN = 64
MAX_KEY_ID = 0xFFFFFF  # Signal's key ids are 24-bit
MAX_REGISTRATION_ID = 0x3FFF  # 14 bits
# ASCII only (`\d` would also take other scripts' digits).
VERIFICATION_CODE = re.compile(r"[0-9]{6}")
VERIFICATION_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")


def check_registration_id(value: int) -> None:
    if not 1 <= value <= MAX_REGISTRATION_ID:
        raise InvalidParameter(
            f"registration_id must be between 1 and {MAX_REGISTRATION_ID}.",
            field="registration_id",
        )


def check_ec_public_key(value: bytes, field: str) -> None:
    if len(value) != EC_PUBLIC_KEY_LEN or value[0] != DJB_TYPE:
        raise InvalidParameter(
            f"{field} must be a 33-byte Curve25519 public key starting with 0x05.", field=field
        )


def check_identity_key(value: bytes) -> None:
    check_ec_public_key(value, "identity_key")


def check_kem_public_key(value: bytes, field: str) -> None:
    if len(value) != KEM_PUBLIC_KEY_LEN or value[0] != KYBER_1024_TYPE:
        raise InvalidParameter(
            f"{field} must be a 1569-byte ML-KEM-1024 public key starting with 0x08.", field=field
        )


def check_signature(value: bytes, field: str) -> None:
    if len(value) != SIGNATURE_LEN:
        raise InvalidParameter(f"{field} must be a 64-byte signature.", field=field)


def check_signed_by(identity_key: bytes, public_key: bytes, signature: bytes, field: str) -> None:
    """The pre-key's serialised public key must carry the device identity's XEdDSA signature
    (what every client checks before using a bundle; the relay refuses to serve bad ones)."""
    if not xeddsa.verify(identity_key[1:], public_key, signature):
        raise InvalidParameter(
            f"{field} does not verify against the device's identity key.", field=field
        )


def check_key_id(value: int, field: str) -> None:
    if not 0 <= value <= MAX_KEY_ID:
        raise InvalidParameter(f"{field} must be between 0 and {MAX_KEY_ID}.", field=field)
