"""HKDF-SHA256 (RFC 5869) and HMAC-SHA256, the only KDFs the protocol uses.

Written on ``hmac.digest`` (one C call per block) because the ratchet derives keys
for every message and object-based HKDF APIs cost several times more per call.
"""

from __future__ import annotations

import hashlib
import hmac

_HASH_LEN = 32


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, hashlib.sha256)


def hkdf_extract(salt: bytes | None, ikm: bytes) -> bytes:
    return hmac.digest(salt if salt else bytes(_HASH_LEN), ikm, hashlib.sha256)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    if not 0 < length <= 255 * _HASH_LEN:
        raise ValueError("invalid HKDF output length")
    blocks: list[bytes] = []
    previous = b""
    counter = 1
    while len(blocks) * _HASH_LEN < length:
        previous = hmac.digest(prk, previous + info + bytes([counter]), hashlib.sha256)
        blocks.append(previous)
        counter += 1
    return b"".join(blocks)[:length]


def hkdf_sha256(ikm: bytes, info: bytes, length: int, salt: bytes | None = None) -> bytes:
    """RFC 5869 HKDF with SHA-256; an absent salt means 32 zero bytes."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)
