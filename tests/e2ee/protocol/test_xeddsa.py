"""XEdDSA signatures: ours, libsignal's, and libsignal-protocol-c's (via axolotl-curve25519)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ee.protocol import KeyPair, generate_identity_key_pair, generate_signed_pre_key, xeddsa

from .test_vectors import LIBSIGNAL_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=300), seed=st.binary(min_size=32, max_size=32))
def test_sign_verify_round_trip(message: bytes, seed: bytes) -> None:
    pair = KeyPair.from_private(seed)
    signature = pair.private_key.sign(message)
    assert len(signature) == 64
    assert signature[63] & 0x80 == 0  # XEdDSA: the public Edwards point has sign bit 0
    assert pair.public_key.verify_signature(message, signature)
    assert not pair.public_key.verify_signature(message + b"!", signature)
    assert not KeyPair.generate().public_key.verify_signature(message, signature)


def test_signatures_are_randomised_but_all_verify() -> None:
    pair = KeyPair.generate()
    first, second = pair.private_key.sign(b"m"), pair.private_key.sign(b"m")
    assert first != second
    assert pair.public_key.verify_signature(b"m", first)
    assert pair.public_key.verify_signature(b"m", second)
    fixed = os.urandom(64)
    assert pair.private_key.sign(b"m", fixed) == pair.private_key.sign(b"m", fixed)


def test_libsignal_signature_with_sign_bit() -> None:
    public = LIBSIGNAL_SIGNATURE["public"][1:]
    assert xeddsa.verify(public, LIBSIGNAL_SIGNATURE["message"], LIBSIGNAL_SIGNATURE["signature"])


@pytest.mark.parametrize(
    "signature",
    [b"", bytes(63), bytes(65), bytes(64), b"\xff" * 64, bytes(32) + b"\xff" * 32],
)
def test_malformed_signatures_are_rejected(signature: bytes) -> None:
    assert not KeyPair.generate().public_key.verify_signature(b"m", signature)


def test_degenerate_public_keys_are_rejected() -> None:
    signature = KeyPair.generate().private_key.sign(b"m")
    p = 2**255 - 19
    for u in (p - 1, p, p + 1, 0):
        assert not xeddsa.verify((u % 2**256).to_bytes(32, "little"), b"m", signature)


def test_signed_pre_key_signature_covers_serialised_key() -> None:
    identity = generate_identity_key_pair()
    record = generate_signed_pre_key(identity, 7, 0)
    assert identity.public_key.verify_signature(
        record.key_pair.public_key.serialize(), record.signature
    )
    assert not identity.public_key.verify_signature(
        record.key_pair.public_key.raw, record.signature
    )


def test_libsignal_protocol_c_signatures_interoperate() -> None:
    # python-axolotl-curve25519 wraps libsignal-protocol-c's curve_sigs (ref10): a second,
    # independent libsignal-family signer that keeps the sign bit in the last byte.
    curve = pytest.importorskip("axolotl_curve25519")
    seen_sign_bit = False
    for _ in range(16):
        pair = KeyPair.generate()
        message = os.urandom(40)
        theirs = curve.calculateSignature(os.urandom(64), pair.private_key.raw, message)
        seen_sign_bit |= bool(theirs[63] & 0x80)
        assert pair.public_key.verify_signature(message, theirs)
        ours = pair.private_key.sign(message)
        assert curve.verifySignature(pair.public_key.raw, message, ours) == 0
    assert seen_sign_bit
