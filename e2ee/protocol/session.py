"""The high-level API: start a session from a bundle, encrypt, decrypt.

These functions are the only ones that touch a :class:`~.store.ProtocolStore`. Each
reads what it needs, computes new state with the pure functions in ``ratchet`` and
``x3dh``, and writes only after the message authenticated, so a rejected message
changes nothing in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from . import ratchet
from .address import ProtocolAddress
from .errors import (
    DuplicateMessageError,
    InvalidKeyError,
    InvalidMessageError,
    InvalidPreKeyError,
    InvalidSignatureError,
    NoSessionError,
    TooFarAheadError,
    UntrustedIdentityError,
)
from .keys import IdentityKey, KeyPair
from .prekeys import PreKeyBundle
from .ratchet import PendingPreKey, SessionState
from .record import SessionRecord
from .store import Direction, ProtocolStore
from .wire import MessageType, PreKeySignalMessage, SignalMessage
from .x3dh import AliceParameters, BobParameters, initialize_alice_session, initialize_bob_session

IdentityChangeCallback = Callable[[ProtocolAddress, IdentityKey], None]


def _save_identity(
    store: ProtocolStore,
    address: ProtocolAddress,
    identity_key: IdentityKey,
    on_change: IdentityChangeCallback | None,
) -> bool:
    changed = store.save_identity(address, identity_key)
    if changed and on_change is not None:
        on_change(address, identity_key)
    return changed


def process_prekey_bundle(
    store: ProtocolStore,
    address: ProtocolAddress,
    bundle: PreKeyBundle,
    *,
    now: int,
    on_identity_change: IdentityChangeCallback | None = None,
) -> bool:
    """Start a session with ``address`` from its published bundle (X3DH, or PQXDH with Kyber).

    ``now`` (any monotonic unit the app uses, e.g. ms since the epoch) is recorded as
    the time the handshake started. Returns True when the peer's identity changed.
    """
    if not store.is_trusted_identity(address, bundle.identity_key, Direction.SENDING):
        raise UntrustedIdentityError(address, bundle.identity_key)
    if not bundle.identity_key.verify_signature(
        bundle.signed_pre_key.serialize(), bundle.signed_pre_key_signature
    ):
        raise InvalidSignatureError("signed pre-key signature does not verify")
    if (bundle.pre_key is None) != (bundle.pre_key_id is None):
        raise InvalidPreKeyError("one-time pre-key id and key must come together")
    if bundle.kyber_pre_key is not None:
        if bundle.kyber_pre_key_id is None or bundle.kyber_pre_key_signature is None:
            raise InvalidPreKeyError("a Kyber pre-key needs its id and signature")
        if not bundle.identity_key.verify_signature(
            bundle.kyber_pre_key.serialize(), bundle.kyber_pre_key_signature
        ):
            raise InvalidSignatureError("Kyber pre-key signature does not verify")
    base_key = KeyPair.generate()
    state, kyber_ciphertext = initialize_alice_session(
        AliceParameters(
            our_identity=store.get_identity_key_pair(),
            our_base_key=base_key,
            their_identity=bundle.identity_key,
            their_signed_pre_key=bundle.signed_pre_key,
            their_ratchet_key=bundle.signed_pre_key,
            their_one_time_pre_key=bundle.pre_key,
            their_kyber_pre_key=bundle.kyber_pre_key,
        )
    )
    state = replace(
        state,
        local_registration_id=store.get_local_registration_id(),
        remote_registration_id=bundle.registration_id,
        pending_pre_key=PendingPreKey(
            signed_pre_key_id=bundle.signed_pre_key_id,
            base_key=base_key.public_key,
            timestamp=now,
            pre_key_id=bundle.pre_key_id,
            kyber_pre_key_id=bundle.kyber_pre_key_id if kyber_ciphertext is not None else None,
            kyber_ciphertext=kyber_ciphertext,
        ),
    )
    record = (store.load_session(address) or SessionRecord()).promote(state)
    changed = _save_identity(store, address, bundle.identity_key, on_identity_change)
    store.store_session(address, record)
    return changed


# libsignal's name for the same step.
start_session = process_prekey_bundle


def encrypt(
    store: ProtocolStore, address: ProtocolAddress, plaintext: bytes
) -> tuple[MessageType, bytes]:
    """Encrypt for ``address``: a PREKEY message until the peer replies, then WHISPER."""
    record = store.load_session(address)
    if record is None or record.current is None:
        raise NoSessionError(f"no session with {address}")
    state = record.current
    if not store.is_trusted_identity(address, state.remote_identity, Direction.SENDING):
        raise UntrustedIdentityError(address, state.remote_identity)
    new_state, message = ratchet.encrypt(state, plaintext)
    pending = state.pending_pre_key
    message_type, data = MessageType.WHISPER, message.serialized
    if pending is not None:
        message_type = MessageType.PREKEY
        data = PreKeySignalMessage.build(
            version=state.version,
            registration_id=state.local_registration_id,
            pre_key_id=pending.pre_key_id,
            signed_pre_key_id=pending.signed_pre_key_id,
            kyber_pre_key_id=pending.kyber_pre_key_id,
            kyber_ciphertext=pending.kyber_ciphertext,
            base_key=pending.base_key,
            identity_key=state.local_identity,
            message=message,
        ).serialized
    store.save_identity(address, state.remote_identity)
    store.store_session(address, record.with_state(None, new_state))
    return message_type, data


def decrypt(
    store: ProtocolStore,
    address: ProtocolAddress,
    message_type: MessageType | int,
    data: bytes,
    *,
    on_identity_change: IdentityChangeCallback | None = None,
) -> bytes:
    """Decrypt a message from ``address``; the store changes only if it authenticates."""
    if message_type == MessageType.WHISPER:
        return _decrypt_whisper(store, address, SignalMessage.parse(data), on_identity_change)
    if message_type == MessageType.PREKEY:
        return _decrypt_prekey(store, address, PreKeySignalMessage.parse(data), on_identity_change)
    raise InvalidMessageError(f"unknown message type {message_type!r}")


def _decrypt_whisper(
    store: ProtocolStore,
    address: ProtocolAddress,
    message: SignalMessage,
    on_identity_change: IdentityChangeCallback | None,
) -> bytes:
    record = store.load_session(address)
    if record is None:
        raise NoSessionError(f"no session with {address}")
    plaintext, new_record, state = _decrypt_with_record(record, message)
    if not store.is_trusted_identity(address, state.remote_identity, Direction.RECEIVING):
        raise UntrustedIdentityError(address, state.remote_identity)
    _save_identity(store, address, state.remote_identity, on_identity_change)
    store.store_session(address, new_record)
    return plaintext


def _decrypt_prekey(
    store: ProtocolStore,
    address: ProtocolAddress,
    message: PreKeySignalMessage,
    on_identity_change: IdentityChangeCallback | None,
) -> bytes:
    if not store.is_trusted_identity(address, message.identity_key, Direction.RECEIVING):
        raise UntrustedIdentityError(address, message.identity_key)
    record = store.load_session(address) or SessionRecord()
    new_session = record.find_matching(message.version, message.base_key) is None
    if new_session:
        # A repeat of a handshake we already processed reuses that session instead.
        record = record.promote(_bob_state(store, message))
    plaintext, new_record, _ = _decrypt_with_record(record, message.message)
    _save_identity(store, address, message.identity_key, on_identity_change)
    store.store_session(address, new_record)
    if new_session and message.pre_key_id is not None:
        store.remove_pre_key(message.pre_key_id)
    if new_session and message.kyber_pre_key_id is not None:
        store.mark_kyber_pre_key_used(message.kyber_pre_key_id)
    return plaintext


def _bob_state(store: ProtocolStore, message: PreKeySignalMessage) -> SessionState:
    signed = store.load_signed_pre_key(message.signed_pre_key_id)
    if signed is None:
        raise InvalidPreKeyError(f"no signed pre-key {message.signed_pre_key_id}")
    one_time = None
    if message.pre_key_id is not None:
        pre_key = store.load_pre_key(message.pre_key_id)
        if pre_key is None:
            raise InvalidPreKeyError(f"no one-time pre-key {message.pre_key_id}")
        one_time = pre_key.key_pair
    kyber = None
    if message.kyber_pre_key_id is not None:
        kyber_record = store.load_kyber_pre_key(message.kyber_pre_key_id)
        if kyber_record is None:
            raise InvalidPreKeyError(f"no Kyber pre-key {message.kyber_pre_key_id}")
        kyber = kyber_record.key_pair
    try:
        state = initialize_bob_session(
            BobParameters(
                our_identity=store.get_identity_key_pair(),
                our_signed_pre_key=signed.key_pair,
                our_ratchet_key=signed.key_pair,
                their_identity=message.identity_key,
                their_base_key=message.base_key,
                our_one_time_pre_key=one_time,
                our_kyber_pre_key=kyber,
                their_kyber_ciphertext=message.kyber_ciphertext,
            )
        )
    except InvalidKeyError as exc:
        raise InvalidMessageError(f"bad handshake key: {exc}") from exc
    return replace(
        state,
        local_registration_id=store.get_local_registration_id(),
        remote_registration_id=message.registration_id,
    )


def _decrypt_with_record(
    record: SessionRecord, message: SignalMessage
) -> tuple[bytes, SessionRecord, SessionState]:
    """Try the current session, then archived ones; promote whichever decrypts."""
    first_error: Exception | None = None
    if record.current is not None:
        try:
            state, plaintext = ratchet.decrypt(record.current, message)
            return plaintext, record.with_state(None, state), state
        except (DuplicateMessageError, TooFarAheadError):
            raise
        except (InvalidMessageError, InvalidKeyError) as exc:
            first_error = exc
    for index, previous in enumerate(record.previous):
        try:
            state, plaintext = ratchet.decrypt(previous, message)
            return plaintext, record.with_state(index, state), state
        except (InvalidMessageError, InvalidKeyError):
            continue
    if first_error is None:
        raise NoSessionError("no session state for this message")
    if isinstance(first_error, InvalidKeyError):
        raise InvalidMessageError(str(first_error)) from first_error
    raise first_error


def bundle_from_store(
    store: ProtocolStore,
    *,
    device_id: int,
    signed_pre_key_id: int,
    pre_key_id: int | None = None,
    kyber_pre_key_id: int | None = None,
) -> PreKeyBundle:
    """Assemble this device's public bundle from its own store (what the relay serves)."""
    signed = store.load_signed_pre_key(signed_pre_key_id)
    if signed is None:
        raise InvalidPreKeyError(f"no signed pre-key {signed_pre_key_id}")
    pre_key = None if pre_key_id is None else store.load_pre_key(pre_key_id)
    if pre_key_id is not None and pre_key is None:
        raise InvalidPreKeyError(f"no one-time pre-key {pre_key_id}")
    kyber = None if kyber_pre_key_id is None else store.load_kyber_pre_key(kyber_pre_key_id)
    if kyber_pre_key_id is not None and kyber is None:
        raise InvalidPreKeyError(f"no Kyber pre-key {kyber_pre_key_id}")
    return PreKeyBundle(
        registration_id=store.get_local_registration_id(),
        device_id=device_id,
        signed_pre_key_id=signed.key_id,
        signed_pre_key=signed.key_pair.public_key,
        signed_pre_key_signature=signed.signature,
        identity_key=store.get_identity_key_pair().public_key,
        pre_key_id=None if pre_key is None else pre_key.key_id,
        pre_key=None if pre_key is None else pre_key.key_pair.public_key,
        kyber_pre_key_id=None if kyber is None else kyber.key_id,
        kyber_pre_key=None if kyber is None else kyber.key_pair.public_key,
        kyber_pre_key_signature=None if kyber is None else kyber.signature,
    )


class SessionClient:
    """One device's protocol endpoint over a store: the object apps hold."""

    def __init__(
        self, store: ProtocolStore, on_identity_change: IdentityChangeCallback | None = None
    ) -> None:
        self.store = store
        self.on_identity_change = on_identity_change

    def start_session(self, address: ProtocolAddress, bundle: PreKeyBundle, *, now: int) -> bool:
        return process_prekey_bundle(
            self.store, address, bundle, now=now, on_identity_change=self.on_identity_change
        )

    process_prekey_bundle = start_session

    def encrypt(self, address: ProtocolAddress, plaintext: bytes) -> tuple[MessageType, bytes]:
        return encrypt(self.store, address, plaintext)

    def decrypt(
        self, address: ProtocolAddress, message_type: MessageType | int, data: bytes
    ) -> bytes:
        return decrypt(
            self.store, address, message_type, data, on_identity_change=self.on_identity_change
        )

    def has_session(self, address: ProtocolAddress) -> bool:
        record = self.store.load_session(address)
        return record is not None and record.current is not None
