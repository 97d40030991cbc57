"""Manifests of closed WARC files, chained by hash, and signed digests of a chain's head.

The model is AWS CloudTrail's log file integrity validation: each closed file gets a manifest
(its SHA-256, size, record count, first and last record ids) that names the hash of the
previous manifest, so removing or editing any file or manifest breaks the chain after it; a
periodic digest of the head is signed with Ed25519 and names the previous digest's signature,
so the chain cannot be rewritten from the head back without the signing key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from archive.warc.problems import Problem


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("manifest and digest dates must be timezone-aware")
    # One instant, one text: the hash must not depend on the zone a date was made in.
    return value.astimezone(UTC).isoformat()


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Manifest:
    file_name: str
    sha256: str  # hex, of the whole file
    size: int
    record_count: int  # resource and metadata records: the file's warcinfo is not counted
    first_record_id: str  # "" when the file holds no records
    last_record_id: str
    closed_at: datetime
    previous_hash: str  # hash() of the previous manifest in the chain, "" for the first

    def canonical(self) -> bytes:
        fields = asdict(self)
        fields["closed_at"] = _utc_iso(self.closed_at)
        return _canonical(fields)

    def hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_canonical(cls, data: bytes) -> Manifest:
        fields = json.loads(data)
        fields["closed_at"] = datetime.fromisoformat(fields["closed_at"])
        return cls(**fields)


def check_chain(manifests: Sequence[Manifest], *, anchor: str = "") -> list[Problem]:
    """Every link of a chain in order: the first manifest names `anchor` ("" at a chain's
    start, or the hash of the manifest before a slice) and each next one names the hash of
    the one before. One problem per broken link, the first broken link first."""
    problems = []
    expected = anchor
    previous_name = "(chain start)"
    for manifest in manifests:
        if manifest.previous_hash != expected:
            problems.append(
                Problem(
                    manifest.file_name,
                    "chain_broken",
                    f"previous_hash {manifest.previous_hash or '(empty)'} does not match "
                    f"{previous_name} ({expected or 'empty'})",
                )
            )
        expected = manifest.hash()
        previous_name = f"the manifest of {manifest.file_name}"
    return problems


@dataclass(frozen=True)
class Digest:
    """A signed statement of a chain's head at a moment."""

    chain: str  # e.g. one chain per business
    head_hash: str  # hash() of the chain's last manifest
    manifest_count: int
    signed_at: datetime
    previous_digest_signature: str  # "" for the chain's first digest

    def canonical(self) -> bytes:
        fields = asdict(self)
        fields["signed_at"] = _utc_iso(self.signed_at)
        return _canonical(fields)

    @classmethod
    def of(
        cls,
        chain: str,
        manifests: Sequence[Manifest],
        signed_at: datetime,
        previous_digest_signature: str = "",
    ) -> Digest:
        head = manifests[-1].hash() if manifests else ""
        return cls(chain, head, len(manifests), signed_at, previous_digest_signature)


def new_signing_key() -> tuple[bytes, bytes]:
    """(private, public), raw 32-byte Ed25519 keys."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def sign_digest(private_key_bytes: bytes, digest: Digest) -> str:
    """The hex Ed25519 signature of the digest's canonical bytes."""
    key = Ed25519PrivateKey.from_private_bytes(private_key_bytes)
    return key.sign(digest.canonical()).hex()


def verify_digest(public_key_bytes: bytes, digest: Digest, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
        key.verify(bytes.fromhex(signature), digest.canonical())
    except (InvalidSignature, ValueError):
        return False
    return True


def check_digests(
    public_key_bytes: bytes,
    signed: Sequence[tuple[Digest, str]],
    manifests: Sequence[Manifest] = (),
) -> list[Problem]:
    """Signed digests of one chain, oldest first: each signature verifies, each names the
    signature before it, and (given the chain's manifests) the last one's head and count
    match them."""
    problems = []
    previous = ""
    for digest, signature in signed:
        name = f"digest {digest.chain} @ {_utc_iso(digest.signed_at)}"
        if not verify_digest(public_key_bytes, digest, signature):
            problems.append(Problem(name, "signature_invalid", "signature does not verify"))
        if digest.previous_digest_signature != previous:
            problems.append(
                Problem(name, "chain_broken", "does not name the previous digest's signature")
            )
        previous = signature
    if signed and manifests:
        last = signed[-1][0]
        count = last.manifest_count
        head = manifests[count - 1] if 0 < count <= len(manifests) else None
        if count > len(manifests):
            problems.append(
                Problem(
                    f"digest {last.chain}",
                    "chain_broken",
                    f"signed {count} manifests, {len(manifests)} present",
                )
            )
        elif (head.hash() if head else "") != last.head_hash:
            problems.append(
                Problem(
                    head.file_name if head else f"digest {last.chain}",
                    "chain_broken",
                    "the manifest signed as the head has changed",
                )
            )
    return problems
