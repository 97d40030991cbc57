"""XEdDSA: Ed25519-style signatures made with X25519 (Montgomery) keys.

Signing follows the XEdDSA specification (the public Edwards point always has sign
bit 0, so the signature's top bit is 0). Verification follows libsignal, which
takes the Edwards sign bit from bit 7 of the last signature byte: that accepts
both our signatures and signatures produced by libsignal and libsignal-protocol-c,
whose signers keep the sign bit there instead of negating the private scalar.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp

SIGNATURE_LENGTH = 64
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
# hash_1 of the XEdDSA spec: a 32-byte prefix 2^256 - 1 - 1, little-endian.
_NONCE_PREFIX = b"\xfe" + b"\xff" * 31


def _scalar(data: bytes) -> int:
    return int.from_bytes(data, "little") % _L


def _le32(value: int) -> bytes:
    return value.to_bytes(32, "little")


def sign(private_key: bytes, message: bytes, random: bytes | None = None) -> bytes:
    """Sign ``message`` with a 32-byte X25519 private key; ``random`` is 64 bytes."""
    if len(private_key) != 32:
        raise ValueError("private key must be 32 bytes")
    nonce_random = os.urandom(64) if random is None else random
    if len(nonce_random) != 64:
        raise ValueError("random must be 64 bytes")
    a = _scalar(private_key)
    edwards = crypto_scalarmult_ed25519_base_noclamp(_le32(a))
    if edwards[31] & 0x80:
        # Negate so the public Edwards point has sign bit 0, as the spec requires.
        a = _L - a
        edwards = edwards[:31] + bytes([edwards[31] & 0x7F])
    a_bytes = _le32(a)
    r = _scalar(hashlib.sha512(_NONCE_PREFIX + a_bytes + message + nonce_random).digest())
    big_r = crypto_scalarmult_ed25519_base_noclamp(_le32(r))
    h = _scalar(hashlib.sha512(big_r + edwards + message).digest())
    s = (r + h * a) % _L
    return big_r + _le32(s)


def montgomery_to_edwards(u_bytes: bytes, sign_bit: int) -> bytes | None:
    """Birational map u -> y = (u - 1) / (u + 1); None when u has no Edwards image."""
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    if u >= _P or u == _P - 1:
        return None
    y = (u - 1) * pow(u + 1, _P - 2, _P) % _P
    return _le32(y | (sign_bit << 255))


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify an XEdDSA signature against a 32-byte X25519 public key."""
    if len(public_key) != 32 or len(signature) != SIGNATURE_LENGTH:
        return False
    sign_bit = signature[63] >> 7
    s = signature[32:63] + bytes([signature[63] & 0x7F])
    if s[31] & 0xE0:
        return False
    edwards = montgomery_to_edwards(public_key, sign_bit)
    if edwards is None:
        return False
    try:
        # Same equation libsignal checks ([s]B - [h]A == R); OpenSSL also insists on s < L.
        Ed25519PublicKey.from_public_bytes(edwards).verify(signature[:32] + s, message)
    except (InvalidSignature, ValueError):
        return False
    return True
