"""The Django store inside one unit of work: the peers of a batch are read together (a query
per table, whatever their number) and the sessions it ratchets written together when it
ends, with the protocol behaving exactly as one call at a time would (new sessions from
bundles, multi-device peers, identity changes, a refused peer leaving no rows, a nested unit
that fails rolling back only its own steps)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from e2ee.actions import do_create_device
from e2ee.models import IdentityChangeNotice, PeerIdentity, Session
from e2ee.protocol import (
    InvalidSignatureError,
    ProtocolAddress,
    decrypt,
    encrypt,
    process_prekey_bundle,
)
from e2ee.store import DjangoDeviceState, unseal
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.protocol.helpers import NOW, Device, make_device

pytestmark = pytest.mark.django_db


@pytest.fixture
def sender() -> DjangoDeviceState:
    return DjangoDeviceState(do_create_device(new_handset_number()))


def peer(devices: int = 1) -> list[Device]:
    """A customer's phone(s): `devices` devices of one number, each with its own keys."""
    name = new_handset_number()
    found = []
    for device_id in range(1, devices + 1):
        device = make_device(name)
        device.address = ProtocolAddress(name, device_id)
        found.append(device)
    return found


def start(state: DjangoDeviceState, devices: list[Device]) -> bool:
    with state.atomic():
        state.prefetch([devices[0].address.name])
        changed = [process_prekey_bundle(state, d.address, d.bundle(), now=NOW) for d in devices]
    return any(changed)


def send_batch(state: DjangoDeviceState, peers: list[list[Device]], texts: int = 2) -> Any:
    """Encrypt `texts` messages to every device of every peer in one unit, as the client's
    `send_many` does; returns the ciphertexts by device and the queries made."""
    out: dict[ProtocolAddress, list[Any]] = {}
    with CaptureQueriesContext(connection) as queries, state.atomic():
        state.prefetch(devices[0].address.name for devices in peers)
        for devices in peers:
            name = devices[0].address.name
            for device_id in state.session_device_ids(name):
                address = ProtocolAddress(name, device_id)
                for n in range(texts):
                    out.setdefault(address, []).append(
                        encrypt(state, address, f"{name}.{device_id} #{n}".encode())
                    )
    return out, len(queries)


def received(state: DjangoDeviceState, devices: list[Device], out: Any) -> list[bytes]:
    me = ProtocolAddress(state.e164, state.device_id)
    return [decrypt(d.store, me, kind, data) for d in devices for kind, data in out[d.address]]


def stored(state: DjangoDeviceState, address: ProtocolAddress) -> bytes:
    row = Session.objects.get(
        device=state.device, name=address.name, peer_device_id=address.device_id
    )
    return unseal(row.record_encrypted)


def test_a_batch_reads_and_writes_its_peers_at_once_whatever_their_number(
    sender: DjangoDeviceState,
) -> None:
    few = [peer(), peer(devices=2)]
    many = [*few, *(peer() for _ in range(6)), peer(devices=3)]
    for devices in many:
        assert start(sender, devices) is False  # first contact: no identity change
    assert Session.objects.filter(device=sender.device).count() == 12
    assert PeerIdentity.objects.filter(device=sender.device).count() == 12

    out_few, queries_few = send_batch(sender, few)
    out_many, queries_many = send_batch(sender, many)
    assert queries_many == queries_few
    # Each device decrypts what it was sent, in order, the PREKEY message first: the ratchet
    # steps of both batches were kept (each session written once per batch).
    for devices in few:
        assert [*received(sender, devices, out_few), *received(sender, devices, out_many)] == [
            f"{d.address.name}.{d.address.device_id} #{n}".encode()
            for batch in range(2)
            for d in devices
            for n in range(2)
        ]
    for devices in many[2:]:
        assert len(received(sender, devices, out_many)) == 2 * len(devices)
    # A later unit without hints reads what the batch wrote.
    fresh = DjangoDeviceState(sender.device)
    address = many[-1][2].address
    assert fresh.load_session(address) is not None
    assert fresh.session_device_ids(address.name) == [1, 2, 3]


def test_a_reinstalled_peer_met_in_a_batch_is_an_identity_change(
    sender: DjangoDeviceState,
) -> None:
    (alice,), (bob,) = peer(), peer()
    start(sender, [alice])
    start(sender, [bob])
    reinstalled = make_device(alice.address.name)  # a new identity, the same number
    with sender.atomic():
        sender.prefetch([alice.address.name, bob.address.name])
        assert encrypt(sender, bob.address, b"before")
        assert process_prekey_bundle(sender, alice.address, reinstalled.bundle(), now=NOW)
        assert sender.get_identity(alice.address) == reinstalled.store.identity_key_pair.public_key
        kind, data = encrypt(sender, alice.address, b"welcome back")
    assert decrypt(reinstalled.store, ProtocolAddress(sender.e164, 1), kind, data) == (
        b"welcome back"
    )
    (notice,) = IdentityChangeNotice.objects.filter(device=sender.device)
    assert (notice.name, notice.peer_device_id) == (alice.address.name, 1)
    assert bytes(notice.new_key) == reinstalled.store.identity_key_pair.public_key.serialize()
    assert [c.address for c in sender.list_identity_changes()] == [alice.address]


def test_a_refused_peer_leaves_no_rows_and_a_failed_nested_unit_only_its_own_steps(
    sender: DjangoDeviceState,
) -> None:
    (alice,), (bob,) = peer(), peer()
    (mallory,) = peer()
    start(sender, [alice])
    start(sender, [bob])
    bob_before = stored(sender, bob.address)
    forged = dataclasses.replace(mallory.bundle(), signed_pre_key_signature=bytes(64))
    with sender.atomic():
        sender.prefetch([alice.address.name, bob.address.name, mallory.address.name])
        first = encrypt(sender, alice.address, b"one")
        with pytest.raises(RuntimeError, match="refused"):
            _lost_step(sender, bob.address)
        assert stored(sender, bob.address) == bob_before  # rolled back with its unit
        with pytest.raises(InvalidSignatureError):
            process_prekey_bundle(sender, mallory.address, forged, now=NOW)
        assert sender.session_device_ids(mallory.address.name) == []
        second = encrypt(sender, alice.address, b"two")
        third = encrypt(sender, bob.address, b"three")
    me = ProtocolAddress(sender.e164, 1)
    assert [decrypt(alice.store, me, *m) for m in (first, second)] == [b"one", b"two"]
    assert decrypt(bob.store, me, *third) == b"three"
    assert stored(sender, bob.address) != bob_before
    assert not Session.objects.filter(name=mallory.address.name).exists()
    assert not PeerIdentity.objects.filter(name=mallory.address.name).exists()


def _lost_step(state: DjangoDeviceState, address: ProtocolAddress) -> None:
    """A nested unit that ratchets a session, then fails."""
    with state.atomic():
        encrypt(state, address, b"lost")
        raise RuntimeError("the relay refused the batch")


def test_a_session_deleted_and_started_again_in_one_unit_is_one_new_row(
    sender: DjangoDeviceState,
) -> None:
    (alice,) = peer()
    start(sender, [alice])
    reinstalled = make_device(alice.address.name)
    with sender.atomic():
        sender.prefetch([alice.address.name])
        encrypt(sender, alice.address, b"to the old phone")
        sender.delete_session(alice.address)  # the relay said: stale
        assert sender.session_device_ids(alice.address.name) == []
        assert sender.load_session(alice.address) is None
        process_prekey_bundle(sender, alice.address, reinstalled.bundle(), now=NOW)
        assert sender.session_device_ids(alice.address.name) == [1]
        message = encrypt(sender, alice.address, b"to the new phone")
    assert Session.objects.filter(name=alice.address.name).count() == 1
    me = ProtocolAddress(sender.e164, 1)
    assert decrypt(reinstalled.store, me, *message) == b"to the new phone"
