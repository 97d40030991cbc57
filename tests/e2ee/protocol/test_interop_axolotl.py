"""Wire interop with python-axolotl, a port of libsignal-protocol-java (X3DH, version 3).

A Parley client and an axolotl client exchange messages both ways, each side
starting the session, with and without a one-time pre-key.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

# axolotl's generated protobuf modules predate protobuf 4's C backend.
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
if os.environ.get("CI"):
    import axolotl  # noqa: F401  (CI installs the interop extras: the test must run there)
else:
    pytest.importorskip("axolotl", reason="install the interop extras (needs a C compiler)")

with warnings.catch_warnings():
    # Its generated protobuf modules use long-deprecated descriptor APIs.
    warnings.simplefilter("ignore", DeprecationWarning)
    from axolotl.ecc.curve import Curve
    from axolotl.identitykey import IdentityKey as AxolotlIdentityKey
    from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
    from axolotl.protocol.whispermessage import WhisperMessage
    from axolotl.sessionbuilder import SessionBuilder
    from axolotl.sessioncipher import SessionCipher
    from axolotl.state.prekeybundle import PreKeyBundle as AxolotlBundle
    from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore
    from axolotl.util.keyhelper import KeyHelper

from e2ee.protocol import MessageType, PreKeyBundle, ProtocolAddress, PublicKey
from e2ee.protocol.wire import PreKeySignalMessage

from .helpers import NOW, make_device

AXOLOTL = ProtocolAddress("axolotl-user", 1)
PARLEY_NAME = "parley-user"


def _point(serialized: bytes) -> Any:
    return Curve.decodePoint(bytearray(serialized), 0)


def _incoming_prekey_message(data: bytes) -> Any:
    """Parse as axolotl does, fixing its proto2 presence bug for the one-time pre-key id.

    python-axolotl reads an absent ``preKeyId`` as 0 (not None) and then looks up
    pre-key 0, so it cannot accept *any* session without a one-time pre-key, its own
    included; libsignal-protocol-java checks ``hasPreKeyId()``. We apply that check.
    """
    message = PreKeyWhisperMessage(serialized=data)
    if not PreKeySignalMessage.parse(data).pre_key_id:
        message.preKeyId = None
    return message


def _axolotl_device(with_one_time: bool) -> tuple[Any, PreKeyBundle]:
    store = InMemoryAxolotlStore()
    pre_keys = KeyHelper.generatePreKeys(1, 2)
    for record in pre_keys:
        store.storePreKey(record.getId(), record)
    signed = KeyHelper.generateSignedPreKey(store.getIdentityKeyPair(), 7)
    store.storeSignedPreKey(signed.getId(), signed)
    one_time = pre_keys[0] if with_one_time else None
    bundle = PreKeyBundle(
        registration_id=store.getLocalRegistrationId(),
        device_id=1,
        signed_pre_key_id=signed.getId(),
        signed_pre_key=PublicKey.deserialize(signed.getKeyPair().getPublicKey().serialize()),
        signed_pre_key_signature=bytes(signed.getSignature()),
        identity_key=PublicKey.deserialize(store.getIdentityKeyPair().getPublicKey().serialize()),
        pre_key_id=None if one_time is None else one_time.getId(),
        pre_key=None
        if one_time is None
        else PublicKey.deserialize(one_time.getKeyPair().getPublicKey().serialize()),
    )
    return store, bundle


@pytest.mark.parametrize("with_one_time", [True, False])
def test_parley_initiates_axolotl_replies(with_one_time: bool) -> None:
    ax_store, bundle = _axolotl_device(with_one_time)
    parley = make_device(PARLEY_NAME)
    parley.client.start_session(AXOLOTL, bundle, now=NOW)
    cipher = SessionCipher(ax_store, ax_store, ax_store, ax_store, PARLEY_NAME, 1)

    kind, data = parley.client.encrypt(AXOLOTL, b"hello from parley")
    assert kind is MessageType.PREKEY
    assert cipher.decryptPkmsg(_incoming_prekey_message(data)) == b"hello from parley"
    for round_ in range(3):
        reply = cipher.encrypt(b"axolotl reply %d" % round_)
        assert isinstance(reply, WhisperMessage)
        assert (
            parley.client.decrypt(AXOLOTL, MessageType.WHISPER, reply.serialize())
            == b"axolotl reply %d" % round_
        )
        kind, data = parley.client.encrypt(AXOLOTL, b"parley %d" % round_)
        assert kind is MessageType.WHISPER
        assert cipher.decryptMsg(WhisperMessage(serialized=data)) == b"parley %d" % round_


@pytest.mark.parametrize("with_one_time", [True, False])
def test_axolotl_initiates_parley_replies(with_one_time: bool) -> None:
    parley = make_device(PARLEY_NAME)
    ours = parley.bundle(kyber=False, one_time=with_one_time)
    bundle = AxolotlBundle(
        ours.registration_id,
        1,
        ours.pre_key_id,
        None if ours.pre_key is None else _point(ours.pre_key.serialize()),
        ours.signed_pre_key_id,
        _point(ours.signed_pre_key.serialize()),
        ours.signed_pre_key_signature,
        AxolotlIdentityKey(_point(ours.identity_key.serialize())),
    )
    ax_store = InMemoryAxolotlStore()
    SessionBuilder(ax_store, ax_store, ax_store, ax_store, PARLEY_NAME, 1).processPreKeyBundle(
        bundle
    )
    cipher = SessionCipher(ax_store, ax_store, ax_store, ax_store, PARLEY_NAME, 1)

    first = cipher.encrypt(b"hello from axolotl")
    assert isinstance(first, PreKeyWhisperMessage)
    second = cipher.encrypt(b"and again")
    assert parley.client.decrypt(AXOLOTL, MessageType.PREKEY, second.serialize()) == b"and again"
    assert (
        parley.client.decrypt(AXOLOTL, MessageType.PREKEY, first.serialize())
        == b"hello from axolotl"
    )
    for round_ in range(3):
        kind, data = parley.client.encrypt(AXOLOTL, b"parley %d" % round_)
        assert kind is MessageType.WHISPER
        assert cipher.decryptMsg(WhisperMessage(serialized=data)) == b"parley %d" % round_
        reply = cipher.encrypt(b"axolotl %d" % round_)
        assert (
            parley.client.decrypt(AXOLOTL, MessageType.WHISPER, reply.serialize())
            == b"axolotl %d" % round_
        )
