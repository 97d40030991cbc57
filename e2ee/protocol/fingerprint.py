"""Safety numbers: libsignal's numeric fingerprint and its scannable (QR) form.

Each party's half is SHA-512 iterated 5,200 times: first over
version(0x0000) || identity key || stable identifier || identity key, then over
previous hash || identity key. Its first 30 bytes become six 5-digit groups (5-byte
big-endian chunks mod 100000). The 60-digit number puts the smaller half first, so
both parties see the same digits. The QR payload is libsignal's
``CombinedFingerprints`` protobuf: version, local (32 bytes), remote (32 bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass

import segno

from . import protobuf
from .errors import InvalidMessageError
from .keys import IdentityKey

FINGERPRINT_ITERATIONS = 5200
SCANNABLE_VERSION = 2
_HASH_VERSION = b"\x00\x00"


def _identifier_bytes(identifier: str | bytes) -> bytes:
    return identifier.encode() if isinstance(identifier, str) else identifier


def fingerprint_hash(identifier: str | bytes, key: IdentityKey, iterations: int) -> bytes:
    if not 1 < iterations <= 1_000_000:
        raise ValueError("invalid fingerprint iteration count")
    key_bytes = key.serialize()
    digest = hashlib.sha512(
        _HASH_VERSION + key_bytes + _identifier_bytes(identifier) + key_bytes
    ).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha512(digest + key_bytes).digest()
    return digest


def _digits(digest: bytes) -> str:
    return "".join(
        f"{int.from_bytes(digest[offset : offset + 5], 'big') % 100_000:05d}"
        for offset in range(0, 30, 5)
    )


@dataclass(frozen=True)
class Fingerprint:
    """One party's view of the pair's safety number."""

    display: str
    scannable: bytes
    local_fingerprint: bytes
    remote_fingerprint: bytes

    def formatted(self) -> str:
        """The 60 digits in twelve groups of five, as apps show them."""
        return " ".join(self.display[i : i + 5] for i in range(0, 60, 5))

    def matches_scanned(self, scanned: bytes) -> bool:
        """True when the payload scanned from the peer's screen is the mirror of ours."""
        version, their_local, their_remote = decode_scannable(scanned)
        if version != decode_scannable(self.scannable)[0]:
            raise InvalidMessageError(f"fingerprint version {version} differs from ours")
        same_remote = hmac.compare_digest(their_local, self.remote_fingerprint[:32])
        same_local = hmac.compare_digest(their_remote, self.local_fingerprint[:32])
        return same_remote and same_local

    def qr_svg(self, scale: int = 4) -> bytes:
        return _render(self.scannable, "svg", scale)

    def qr_png(self, scale: int = 4) -> bytes:
        return _render(self.scannable, "png", scale)


def _render(payload: bytes, kind: str, scale: int) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind=kind, scale=scale)
    return buffer.getvalue()


def encode_scannable(version: int, local: bytes, remote: bytes) -> bytes:
    return (
        protobuf.encode_uint(1, version)
        + protobuf.encode_bytes(2, protobuf.encode_bytes(1, local[:32]))
        + protobuf.encode_bytes(3, protobuf.encode_bytes(1, remote[:32]))
    )


def decode_scannable(data: bytes) -> tuple[int, bytes, bytes]:
    fields = protobuf.decode(data)
    version = protobuf.get_uint32(fields, 1)
    local = protobuf.get_bytes(protobuf.decode(protobuf.get_bytes(fields, 2) or b""), 1)
    remote = protobuf.get_bytes(protobuf.decode(protobuf.get_bytes(fields, 3) or b""), 1)
    if version is None or local is None or remote is None:
        raise InvalidMessageError("incomplete scannable fingerprint")
    return version, local, remote


def safety_number(
    local_identifier: str | bytes,
    local_key: IdentityKey,
    remote_identifier: str | bytes,
    remote_key: IdentityKey,
    *,
    version: int = SCANNABLE_VERSION,
    iterations: int = FINGERPRINT_ITERATIONS,
) -> Fingerprint:
    """The safety number between us and a peer (identifiers are e.g. phone numbers)."""
    local = fingerprint_hash(local_identifier, local_key, iterations)
    remote = fingerprint_hash(remote_identifier, remote_key, iterations)
    local_digits, remote_digits = _digits(local), _digits(remote)
    display = (
        local_digits + remote_digits
        if local_digits < remote_digits
        else remote_digits + local_digits
    )
    return Fingerprint(display, encode_scannable(version, local, remote), local, remote)
