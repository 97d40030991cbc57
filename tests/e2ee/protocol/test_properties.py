"""Property tests: delivery order, loss, replay and tampering never break a session."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e2ee.protocol import DuplicateMessageError, MessageType, ProtocolError, protobuf
from e2ee.protocol.ratchet import MAX_RECEIVER_CHAINS
from e2ee.protocol.wire import PreKeySignalMessage, SignalMessage

from .helpers import Device, connect, make_device

Op = tuple[str, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 1)),
        st.tuples(st.just("deliver"), st.integers(0, 1000)),
        st.tuples(st.just("drop"), st.integers(0, 1000)),
        st.tuples(st.just("replay"), st.integers(0, 1000)),
    ),
    max_size=60,
)


@dataclass
class InFlight:
    sender: int
    kind: MessageType
    data: bytes
    plaintext: bytes


@dataclass
class World:
    devices: list[Device]
    pending: list[InFlight] = field(default_factory=list)
    delivered: list[InFlight] = field(default_factory=list)
    # Per receiver: the peer ratchet keys it has opened chains for, oldest first.
    chains_seen: list[list[bytes]] = field(default_factory=lambda: [[], []])
    sent = 0

    def ratchet_key(self, message: InFlight) -> bytes:
        if message.kind is MessageType.PREKEY:
            return PreKeySignalMessage.parse(message.data).message.ratchet_key.raw
        return SignalMessage.parse(message.data).ratchet_key.raw

    def evicted(self, receiver: int, key: bytes) -> bool:
        seen = self.chains_seen[receiver]
        return key in seen and seen.index(key) < len(seen) - MAX_RECEIVER_CHAINS

    def send(self, sender: int) -> None:
        me, peer = self.devices[sender], self.devices[1 - sender]
        if not me.client.has_session(peer.address):
            return
        self.sent += 1
        text = b"message %d from %d" % (self.sent, sender)
        kind, data = me.client.encrypt(peer.address, text)
        self.pending.append(InFlight(sender, kind, data, text))

    def deliver(self, message: InFlight) -> None:
        receiver = 1 - message.sender
        me, peer = self.devices[receiver], self.devices[message.sender]
        key = self.ratchet_key(message)
        if self.evicted(receiver, key):
            self.reject(message, duplicate=False)
            return
        assert me.client.decrypt(peer.address, message.kind, message.data) == message.plaintext
        if key not in self.chains_seen[receiver]:
            self.chains_seen[receiver].append(key)
        self.delivered.append(message)

    def reject(self, message: InFlight, *, duplicate: bool) -> None:
        receiver = 1 - message.sender
        me, peer = self.devices[receiver], self.devices[message.sender]
        before = me.snapshot()
        with pytest.raises(DuplicateMessageError if duplicate else ProtocolError):
            me.client.decrypt(peer.address, message.kind, message.data)
        assert me.snapshot() == before

    def run(self, script: list[Op]) -> None:
        for op, arg in script:
            if op == "send":
                self.send(arg)
            elif op == "deliver" and self.pending:
                self.deliver(self.pending.pop(arg % len(self.pending)))
            elif op == "drop" and self.pending:
                self.pending.pop(arg % len(self.pending))
            elif op == "replay" and self.delivered:
                message = self.delivered[arg % len(self.delivered)]
                key = self.ratchet_key(message)
                self.reject(message, duplicate=not self.evicted(1 - message.sender, key))
        while self.pending:
            self.deliver(self.pending.pop(0))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ops, pq=st.booleans())
def test_any_interleaving_reordering_and_loss_decrypts(script: list[Op], pq: bool) -> None:
    alice, bob = make_device("alice"), make_device("bob")
    connect(alice, bob, kyber=pq)
    World([alice, bob]).run([("send", 0), *script])


def _established() -> tuple[Device, Device]:
    alice, bob = make_device("alice"), make_device("bob")
    connect(alice, bob)
    for i in range(2):
        kind, data = alice.client.encrypt(bob.address, b"warm-up %d" % i)
        bob.client.decrypt(alice.address, kind, data)
        kind, data = bob.client.encrypt(alice.address, b"reply %d" % i)
        alice.client.decrypt(bob.address, kind, data)
    return alice, bob


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_bit_flip_in_a_signal_message_is_rejected(data: st.DataObject) -> None:
    alice, bob = _established()
    kind, message = alice.client.encrypt(bob.address, b"do not touch")
    assert kind is MessageType.WHISPER
    bit = data.draw(st.integers(0, len(message) * 8 - 1))
    tampered = bytearray(message)
    tampered[bit // 8] ^= 1 << (bit % 8)
    before = bob.snapshot()
    with pytest.raises(ProtocolError):
        bob.client.decrypt(alice.address, kind, bytes(tampered))
    assert bob.snapshot() == before
    assert bob.client.decrypt(alice.address, kind, message) == b"do not touch"


def _registration_id_span(message: PreKeySignalMessage) -> range:
    """Bytes of field 5: libsignal does not authenticate the advisory registration id."""
    prefix = 1
    if message.pre_key_id is not None:
        prefix += len(protobuf.encode_uint(1, message.pre_key_id))
    prefix += len(protobuf.encode_bytes(2, message.base_key.serialize()))
    prefix += len(protobuf.encode_bytes(3, message.identity_key.serialize()))
    prefix += len(protobuf.encode_bytes(4, message.message.serialized))
    return range(prefix, prefix + len(protobuf.encode_uint(5, message.registration_id)))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), pq=st.booleans())
def test_any_bit_flip_in_a_prekey_message_is_rejected(data: st.DataObject, pq: bool) -> None:
    alice, bob = make_device("alice"), make_device("bob")
    connect(alice, bob, kyber=pq)
    kind, message = alice.client.encrypt(bob.address, b"first contact")
    assert kind is MessageType.PREKEY
    skip = _registration_id_span(PreKeySignalMessage.parse(message))
    positions = [i for i in range(len(message)) if i not in skip]
    index = data.draw(st.sampled_from(positions))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(message)
    tampered[index] ^= 1 << bit
    before = bob.snapshot()
    with pytest.raises(ProtocolError):
        bob.client.decrypt(alice.address, kind, bytes(tampered))
    assert bob.snapshot() == before
    assert bob.client.decrypt(alice.address, kind, message) == b"first contact"


def test_the_other_encoding_of_a_base_key_is_refused() -> None:
    """X25519 ignores a key's top bit: flipping it would agree on the same secret, so only
    the canonical encoding is accepted (the case the bit-flip property once found)."""
    alice, bob = make_device("alice"), make_device("bob")
    connect(alice, bob)
    kind, message = alice.client.encrypt(bob.address, b"first contact")
    base_key = PreKeySignalMessage.parse(message).base_key.serialize()
    last = message.index(base_key) + len(base_key) - 1
    tampered = bytearray(message)
    tampered[last] ^= 0x80
    before = bob.snapshot()
    with pytest.raises(ProtocolError):
        bob.client.decrypt(alice.address, kind, bytes(tampered))
    assert bob.snapshot() == before
    assert bob.client.decrypt(alice.address, kind, message) == b"first contact"
