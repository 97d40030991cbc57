"""Devices for protocol tests: an in-memory store with published pre-keys."""

from __future__ import annotations

from dataclasses import dataclass

from e2ee.protocol import (
    IdentityPolicy,
    InMemoryProtocolStore,
    MessageType,
    PreKeyBundle,
    ProtocolAddress,
    SessionClient,
    bundle_from_store,
    generate_identity_key_pair,
    generate_kyber_pre_key,
    generate_last_resort_kyber_pre_key,
    generate_pre_keys,
    generate_registration_id,
    generate_signed_pre_key,
)

NOW = 1_767_225_600_000  # a fixed "now" in ms; protocol code never reads the clock


@dataclass
class Device:
    address: ProtocolAddress
    store: InMemoryProtocolStore
    client: SessionClient

    def bundle(
        self, *, one_time: bool = True, kyber: bool = True, last_resort: bool = False
    ) -> PreKeyBundle:
        return bundle_from_store(
            self.store,
            device_id=self.address.device_id,
            signed_pre_key_id=1,
            pre_key_id=min(self.store.pre_keys) if one_time else None,
            kyber_pre_key_id=(
                100 if last_resort else min(k for k in self.store.kyber_pre_keys if k < 100)
            )
            if kyber
            else None,
        )

    def snapshot(self) -> bytes:
        return self.store.to_bytes()


def make_device(
    name: str, policy: IdentityPolicy = IdentityPolicy.NOTIFY, pre_keys: int = 5
) -> Device:
    identity = generate_identity_key_pair()
    store = InMemoryProtocolStore(identity, generate_registration_id(), policy)
    for record in generate_pre_keys(1, pre_keys):
        store.store_pre_key(record)
    store.store_signed_pre_key(generate_signed_pre_key(identity, 1, NOW))
    for key_id in (1, 2):
        store.store_kyber_pre_key(generate_kyber_pre_key(identity, key_id, NOW))
    store.store_kyber_pre_key(generate_last_resort_kyber_pre_key(identity, 100, NOW))
    return Device(ProtocolAddress(name, 1), store, SessionClient(store))


def connect(alice: Device, bob: Device, **bundle_options: bool) -> None:
    """Alice starts a session with Bob from his bundle."""
    alice.client.start_session(bob.address, bob.bundle(**bundle_options), now=NOW)


def send(sender: Device, receiver: Device, text: bytes) -> tuple[MessageType, bytes]:
    return sender.client.encrypt(receiver.address, text)


def receive(receiver: Device, sender: Device, message: tuple[MessageType, bytes]) -> bytes:
    return receiver.client.decrypt(sender.address, message[0], message[1])
