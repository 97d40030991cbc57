"""The protobuf codec and libsignal message framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2ee.protocol import InvalidKeyError, InvalidMessageError, KeyPair, PublicKey, protobuf
from e2ee.protocol.keys import KemKeyPair, KemPublicKey
from e2ee.protocol.wire import PreKeySignalMessage, SignalMessage


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(value: int) -> None:
    assert protobuf.decode(protobuf.encode_uint(3, value)) == {3: value}


@given(
    st.dictionaries(
        st.integers(1, 50), st.one_of(st.integers(0, 2**32 - 1), st.binary(max_size=40))
    )
)
def test_fields_round_trip(fields: dict[int, int | bytes]) -> None:
    encoded = b"".join(
        protobuf.encode_uint(n, v) if isinstance(v, int) else protobuf.encode_bytes(n, v)
        for n, v in sorted(fields.items())
    )
    assert protobuf.decode(encoded) == fields


@pytest.mark.parametrize(
    "data", [b"\x08", b"\x0a\x05ab", b"\x00\x01", b"\x0b", b"\x08" + b"\xff" * 11]
)
def test_malformed_protobuf(data: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        protobuf.decode(data)


def test_known_signal_message_encoding() -> None:
    ratchet = PublicKey(bytes(range(32)))
    identity = PublicKey(bytes(32))
    message = SignalMessage.build(
        version=3,
        mac_key=bytes(32),
        ratchet_key=ratchet,
        counter=5,
        previous_counter=300,
        ciphertext=b"\xaa" * 16,
        sender_identity=identity,
        receiver_identity=identity,
    )
    body = (
        b"\x34"
        + b"\x0a\x21\x05"
        + bytes(range(32))
        + b"\x10\x05"
        + b"\x18\xac\x02"
        + b"\x22\x10"
        + b"\xaa" * 16
    )
    assert message.serialized[:-8] == body
    parsed = SignalMessage.parse(message.serialized)
    assert (parsed.counter, parsed.previous_counter, parsed.ciphertext) == (5, 300, b"\xaa" * 16)
    assert parsed.verify_mac(identity, identity, bytes(32))
    assert not parsed.verify_mac(identity, PublicKey(b"\x01" * 32), bytes(32))


def test_prekey_message_round_trip() -> None:
    inner = SignalMessage.build(
        version=4,
        mac_key=bytes(32),
        ratchet_key=KeyPair.generate().public_key,
        counter=0,
        previous_counter=0,
        ciphertext=bytes(16),
        sender_identity=PublicKey(bytes(32)),
        receiver_identity=PublicKey(bytes(32)),
    )
    message = PreKeySignalMessage.build(
        version=4,
        registration_id=1234,
        pre_key_id=None,
        signed_pre_key_id=9,
        kyber_pre_key_id=3,
        kyber_ciphertext=b"\x08" + bytes(1568),
        base_key=KeyPair.generate().public_key,
        identity_key=KeyPair.generate().public_key,
        message=inner,
    )
    parsed = PreKeySignalMessage.parse(message.serialized)
    assert parsed == message
    without_kyber = message.serialized.split(b"\x38\x03")[0]
    with pytest.raises(InvalidMessageError):
        PreKeySignalMessage.parse(without_kyber)  # v4 demands the Kyber fields


def test_key_serialisation() -> None:
    pair = KeyPair.generate()
    serialised = pair.public_key.serialize()
    assert len(serialised) == 33
    assert serialised[0] == 0x05
    assert PublicKey.deserialize(serialised) == pair.public_key
    for bad in (b"", serialised[1:], b"\x06" + serialised[1:], serialised + b"\x00"):
        with pytest.raises(InvalidKeyError):
            PublicKey.deserialize(bad)
    kem = KemKeyPair.generate()
    kem_serialised = kem.public_key.serialize()
    assert len(kem_serialised) == 1569
    assert kem_serialised[0] == 0x08
    assert KemPublicKey.deserialize(kem_serialised) == kem.public_key
    shared, ciphertext = kem.public_key.encapsulate()
    assert ciphertext[0] == 0x08
    assert len(ciphertext) == 1569
    assert kem.decapsulate(ciphertext) == shared
    with pytest.raises(InvalidKeyError):
        kem.decapsulate(b"\x07" + ciphertext[1:])
