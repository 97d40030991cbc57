"""Sessions end to end: X3DH, PQXDH, ratcheting, bounds, replay, identity changes."""

from __future__ import annotations

import pytest

from e2ee.protocol import (
    BadMacError,
    DuplicateMessageError,
    IdentityPolicy,
    InvalidMessageError,
    InvalidPreKeyError,
    InvalidSignatureError,
    InvalidVersionError,
    MessageType,
    NoSessionError,
    ProtocolError,
    SessionRecord,
    TooFarAheadError,
    UntrustedIdentityError,
    generate_identity_key_pair,
)
from e2ee.protocol import ratchet as ratchet_module
from e2ee.protocol.ratchet import MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS
from e2ee.protocol.wire import PreKeySignalMessage

from .helpers import NOW, Device, connect, make_device, receive, send


@pytest.fixture
def alice() -> Device:
    return make_device("alice")


@pytest.fixture
def bob() -> Device:
    return make_device("bob")


def converse(alice: Device, bob: Device, rounds: int = 3) -> None:
    for i in range(rounds):
        assert receive(bob, alice, send(alice, bob, b"a%d" % i)) == b"a%d" % i
        assert receive(alice, bob, send(bob, alice, b"b%d" % i)) == b"b%d" % i


@pytest.mark.parametrize("one_time", [True, False])
def test_x3dh_session_is_version_3(alice: Device, bob: Device, one_time: bool) -> None:
    connect(alice, bob, kyber=False, one_time=one_time)
    kind, data = send(alice, bob, b"hello")
    assert kind is MessageType.PREKEY
    assert data[0] == 0x34  # session version 3 in the high nibble, libsignal's 4 below
    parsed = PreKeySignalMessage.parse(data)
    assert parsed.kyber_pre_key_id is None
    assert (parsed.pre_key_id is not None) is one_time
    pre_keys_before = len(bob.store.pre_keys)
    assert receive(bob, alice, (kind, data)) == b"hello"
    assert len(bob.store.pre_keys) == pre_keys_before - (1 if one_time else 0)
    converse(alice, bob)


def test_pqxdh_session_is_version_4(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    kind, data = send(alice, bob, b"post-quantum hello")
    parsed = PreKeySignalMessage.parse(data)
    assert data[0] == 0x44
    assert parsed.kyber_pre_key_id == 1
    assert parsed.kyber_ciphertext is not None
    assert len(parsed.kyber_ciphertext) == 1 + 1568
    assert receive(bob, alice, (kind, data)) == b"post-quantum hello"
    assert 1 not in bob.store.kyber_pre_keys  # one-time Kyber pre-key consumed
    converse(alice, bob)
    assert send(alice, bob, b"x")[1][0] == 0x44


def test_last_resort_kyber_key_survives_use(alice: Device, bob: Device) -> None:
    connect(alice, bob, last_resort=True)
    assert receive(bob, alice, send(alice, bob, b"hi")) == b"hi"
    assert 100 in bob.store.kyber_pre_keys


def test_prekey_messages_repeat_until_reply(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    first, second = send(alice, bob, b"1"), send(alice, bob, b"2")
    assert first[0] is second[0] is MessageType.PREKEY
    assert receive(bob, alice, second) == b"2"
    assert receive(bob, alice, first) == b"1"  # same handshake: reuses the session
    assert receive(alice, bob, send(bob, alice, b"reply")) == b"reply"
    assert send(alice, bob, b"3")[0] is MessageType.WHISPER


def test_bad_signed_pre_key_signature_is_rejected(alice: Device, bob: Device) -> None:
    bundle = bob.bundle()
    forged = bundle.__class__(**{**bundle.__dict__, "signed_pre_key_signature": bytes(64)})
    with pytest.raises(InvalidSignatureError):
        alice.client.start_session(bob.address, forged, now=NOW)
    other = make_device("mallory")
    swapped = bundle.__class__(**{**bundle.__dict__, "kyber_pre_key": other.bundle().kyber_pre_key})
    with pytest.raises(InvalidSignatureError):
        alice.client.start_session(bob.address, swapped, now=NOW)
    assert not alice.client.has_session(bob.address)


def test_missing_pre_keys_are_typed_errors(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    message = send(alice, bob, b"hi")
    bob.store.pre_keys.clear()
    with pytest.raises(InvalidPreKeyError):
        receive(bob, alice, message)
    with pytest.raises(NoSessionError):
        send(bob, alice, b"no session yet")
    inner = PreKeySignalMessage.parse(message[1]).message.serialized
    with pytest.raises(NoSessionError):
        bob.client.decrypt(alice.address, MessageType.WHISPER, inner)


def test_replay_is_rejected_and_changes_nothing(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    message = send(alice, bob, b"once")
    assert receive(bob, alice, message) == b"once"
    before = bob.snapshot()
    with pytest.raises(DuplicateMessageError):
        receive(bob, alice, message)
    assert bob.snapshot() == before


def test_replayed_prekey_message_is_rejected(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    message = send(alice, bob, b"first")
    assert receive(bob, alice, message) == b"first"
    before = bob.snapshot()
    with pytest.raises(DuplicateMessageError):
        receive(bob, alice, message)
    assert bob.snapshot() == before


def test_out_of_order_within_and_across_chains(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    batch1 = [send(alice, bob, b"x%d" % i) for i in range(5)]
    assert receive(bob, alice, batch1[4]) == b"x4"
    assert receive(alice, bob, send(bob, alice, b"turn")) == b"turn"
    batch2 = [send(alice, bob, b"y%d" % i) for i in range(3)]
    for i in (2, 0):
        assert receive(bob, alice, batch2[i]) == b"y%d" % i
    for i in (1, 3, 0, 2):
        assert receive(bob, alice, batch1[i]) == b"x%d" % i
    assert receive(bob, alice, batch2[1]) == b"y1"


def test_skipped_keys_are_bounded(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    messages = [send(alice, bob, b"%d" % i) for i in range(MAX_MESSAGE_KEYS + 10)]
    assert receive(bob, alice, messages[-1]) == b"%d" % (MAX_MESSAGE_KEYS + 9)
    record = bob.store.load_session(alice.address)
    assert record is not None
    assert record.current is not None
    assert record.current.skipped_key_count() == MAX_MESSAGE_KEYS
    assert receive(bob, alice, messages[9]) == b"9"  # the oldest key kept
    with pytest.raises(DuplicateMessageError):
        receive(bob, alice, messages[8])  # evicted: cannot be decrypted any more


def _message_at(state: ratchet_module.SessionState, counter: int, text: bytes) -> bytes:
    """A genuine message from ``state``'s sending chain, ``counter`` steps along it."""
    chain = state.sender_chain
    while chain.index < counter:
        chain = chain.next()
    _, message = ratchet_module.encrypt(ratchet_module.replace(state, sender_chain=chain), text)
    return message.serialized


def test_forward_jump_is_bounded(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    record = alice.store.load_session(bob.address)
    assert record is not None
    assert record.current is not None
    state = record.current
    limit = state.sender_chain.index + MAX_FORWARD_JUMPS
    before = bob.snapshot()
    with pytest.raises(TooFarAheadError):
        bob.client.decrypt(
            alice.address, MessageType.WHISPER, _message_at(state, limit + 1, b"far")
        )
    assert bob.snapshot() == before
    at_bound = _message_at(state, limit, b"ok")
    assert bob.client.decrypt(alice.address, MessageType.WHISPER, at_bound) == b"ok"


def test_tampered_message_fails_mac_and_changes_nothing(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    kind, data = send(alice, bob, b"secret")
    tampered = bytearray(data)
    tampered[-12] ^= 0x40  # inside the ciphertext
    before = bob.snapshot()
    with pytest.raises(BadMacError):
        bob.client.decrypt(alice.address, kind, bytes(tampered))
    assert bob.snapshot() == before
    assert receive(bob, alice, (kind, data)) == b"secret"


def test_malformed_input_is_invalid_message(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    for junk in (b"", b"\x34", b"\x34" + b"\xff" * 20, b"\x24" + bytes(40)):
        with pytest.raises(InvalidMessageError):
            bob.client.decrypt(alice.address, MessageType.WHISPER, junk)
        with pytest.raises(InvalidMessageError):
            bob.client.decrypt(alice.address, MessageType.PREKEY, junk)
    with pytest.raises(InvalidVersionError):
        bob.client.decrypt(alice.address, MessageType.WHISPER, b"\x54" + bytes(40))
    with pytest.raises(InvalidMessageError):
        bob.client.decrypt(alice.address, 7, b"whatever")


def test_identity_change_notify_policy(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 1)
    # Bob reinstalls: new identity, new pre-keys, same address.
    new_bob = make_device("bob")
    changed = alice.client.start_session(new_bob.address, new_bob.bundle(), now=NOW)
    assert changed
    assert alice.store.identity_changes[-1].new_key == new_bob.store.identity_key_pair.public_key
    assert receive(new_bob, alice, send(alice, new_bob, b"after reinstall")) == b"after reinstall"


def test_identity_change_strict_policy_raises(bob: Device) -> None:
    alice = make_device("alice", IdentityPolicy.STRICT)
    connect(alice, bob)
    converse(alice, bob, 1)
    new_bob = make_device("bob")
    with pytest.raises(UntrustedIdentityError) as caught:
        alice.client.start_session(new_bob.address, new_bob.bundle(), now=NOW)
    assert caught.value.identity_key == new_bob.store.identity_key_pair.public_key
    # The user accepts the new safety number; then the session can be rebuilt.
    assert alice.store.save_identity(new_bob.address, caught.value.identity_key)
    alice.client.start_session(new_bob.address, new_bob.bundle(), now=NOW)
    assert receive(new_bob, alice, send(alice, new_bob, b"ok")) == b"ok"


def test_receiving_from_changed_identity_strict(alice: Device) -> None:
    bob = make_device("bob", IdentityPolicy.STRICT)
    connect(alice, bob)
    assert receive(bob, alice, send(alice, bob, b"1")) == b"1"
    new_alice = make_device("alice")
    connect(new_alice, bob)
    message = send(new_alice, bob, b"I reinstalled")
    before = bob.snapshot()
    with pytest.raises(UntrustedIdentityError):
        receive(bob, new_alice, message)
    assert bob.snapshot() == before


def test_identity_change_callback(alice: Device, bob: Device) -> None:
    seen: list[bytes] = []
    bob.client.on_identity_change = lambda address, key: seen.append(key.serialize())
    connect(alice, bob)
    receive(bob, alice, send(alice, bob, b"1"))
    new_alice = make_device("alice")
    connect(new_alice, bob)
    assert receive(bob, new_alice, send(new_alice, bob, b"2")) == b"2"
    assert seen == [new_alice.store.identity_key_pair.public_key.serialize()]


def test_simultaneous_initiation_uses_archived_states(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    connect(bob, alice)
    from_alice = send(alice, bob, b"from alice")
    from_bob = send(bob, alice, b"from bob")
    assert receive(bob, alice, from_alice) == b"from alice"
    assert receive(alice, bob, from_bob) == b"from bob"
    # Both now talk on whichever session decrypted last; messages keep flowing.
    converse(alice, bob, 2)


def test_session_record_round_trips(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    converse(alice, bob, 2)
    skipped = [send(alice, bob, b"s%d" % i) for i in range(3)]
    receive(bob, alice, skipped[2])
    record = bob.store.load_session(alice.address)
    assert record is not None
    data = record.to_bytes()
    restored = SessionRecord.from_bytes(data)
    assert restored.to_bytes() == data
    bob.store.store_session(alice.address, restored)
    assert receive(bob, alice, skipped[0]) == b"s0"


def test_corrupt_state_is_a_typed_error() -> None:
    for bad in (b"not json", b"{}", b'{"kind": "session_record", "v": 99}'):
        with pytest.raises(ProtocolError):
            SessionRecord.from_bytes(bad)


def test_large_message(alice: Device, bob: Device) -> None:
    connect(alice, bob)
    payload = bytes(range(256)) * 4096
    assert receive(bob, alice, send(alice, bob, payload)) == payload


def test_fresh_identity_keys_differ() -> None:
    assert generate_identity_key_pair().public_key != generate_identity_key_pair().public_key
