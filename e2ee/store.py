"""The Django adapter of the protocol store (and of the client's :class:`DeviceState`).

This app keeps key material and sessions only. A device's plaintext message history lives
with its owner, reached through a port this module never imports the implementation of: a
handset's (the phone's own local storage) in the handsets app (:func:`use_handset_history`),
a business number's in parley.messaging's conversations and messages, written through its
actions (:func:`use_business_history`). A store whose port is not installed refuses to
record or read history rather than drop it.

One :class:`DjangoDeviceState` wraps one :class:`e2ee.models.LocalDevice`. Every secret
(identity private key, pre-key pairs, session records, the relay credential) is stored
Fernet-encrypted via `parley.core.crypto`. The client wraps each high-level protocol call
in :meth:`atomic`, so a call that fails writes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from django.db import transaction

from e2ee.client.state import Health, HistoryItem
from e2ee.health import do_count_health, get_device_health
from e2ee.models import (
    IdentityChangeNotice,
    LocalDevice,
    PeerIdentity,
    PreKey,
    Session,
)
from e2ee.protocol import (
    Direction,
    IdentityChange,
    IdentityKey,
    IdentityKeyPair,
    InMemoryProtocolStore,
    KeyPair,
    KyberPreKeyRecord,
    PreKeyRecord,
    ProtocolAddress,
    PublicKey,
    SessionRecord,
    SignedPreKeyRecord,
)
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.crypto import decrypt_text, encrypt_text


def seal(data: bytes) -> str:
    return encrypt_text(base64.b64encode(data).decode())


def unseal(token: str) -> bytes:
    return base64.b64decode(decrypt_text(token))


class BusinessHistory(Protocol):
    """Where a business number's message history lives. parley.messaging provides it (it
    builds on this app, so this app never imports it): see :func:`use_business_history`."""

    def record_item(
        self, number: PhoneNumber, item: HistoryItem, *, message_id: int | None
    ) -> int: ...

    def import_items(self, number: PhoneNumber, items: list[HistoryItem]) -> int: ...

    def apply_status(self, number: PhoneNumber, guid: str, status: str) -> bool: ...

    def apply_statuses(self, number: PhoneNumber, statuses: list[tuple[str, str]]) -> int: ...

    def record_sent(self, sent: list[tuple[int, str, int]]) -> int: ...

    def list_items(self, number: PhoneNumber, peer: str | None = None) -> list[HistoryItem]: ...


_business_history: BusinessHistory | None = None


def use_business_history(port: BusinessHistory) -> None:
    """Installed once at start-up by the app that owns business conversations."""
    global _business_history
    _business_history = port


def _history() -> BusinessHistory:
    if _business_history is None:
        raise RuntimeError("no business history is installed (is parley.messaging installed?)")
    return _business_history


class HandsetHistory(Protocol):
    """Where a simulated handset's own message history lives (the phone's local storage).
    The handsets app provides it (it builds on this app, so this app never imports it): see
    :func:`use_handset_history`."""

    def add_item(self, device: LocalDevice, item: HistoryItem) -> None: ...

    def apply_status(self, device: LocalDevice, guid: str, status: str) -> bool: ...

    def list_items(self, device: LocalDevice, peer: str | None = None) -> list[HistoryItem]: ...


_handset_history: HandsetHistory | None = None


def use_handset_history(port: HandsetHistory) -> None:
    """Installed once at start-up by the app that owns the handsets' history."""
    global _handset_history
    _handset_history = port


def _handset() -> HandsetHistory:
    if _handset_history is None:
        raise RuntimeError(
            "no handset history is installed (is e2ee.handsets installed?): "
            "a handset's messages have nowhere to be kept"
        )
    return _handset_history


class DjangoDeviceState:
    """A :class:`~e2ee.client.state.DeviceState` in the database."""

    def __init__(self, device: LocalDevice) -> None:
        self.device = device
        self.e164 = device.e164
        self.device_id = device.device_id
        self._identity: IdentityKeyPair | None = None
        # A business number's history lives in parley.messaging (the business's one copy
        # of each message); the endpoint service names the messages it is sending here
        # (`expect_message`), by peer and client timestamp.
        self.importing = False  # a restored backup: copy history quietly
        self._sent: dict[tuple[str, int], int] = {}
        # Inside one unit of work the sessions it read or wrote are kept here, so a batch
        # that encrypts many messages reads each session once; forgotten when the outermost
        # unit ends or anything in it fails (a rolled-back ratchet step must not survive).
        self._depth = 0
        self._sessions: dict[tuple[str, int], SessionRecord | None] = {}
        # Envelopes of expected business messages, recorded together when the unit ends.
        self._sent_envelopes: list[tuple[int, str, int]] = []
        # Receipts about a business number's messages (guid, status), applied together when
        # the outermost unit ends (a page of receipts: one read and one lock for all);
        # dropped only when that unit fails, as its transaction is.
        self._statuses: list[tuple[str, str]] = []

    def _forget(self) -> None:
        self._sessions.clear()
        self._sent_envelopes.clear()

    # -- unit of work --------------------------------------------------------------------

    def atomic(self) -> AbstractContextManager[Any]:
        return self._unit()

    @contextmanager
    def _unit(self) -> Iterator[None]:
        self._depth += 1
        try:
            with transaction.atomic():
                yield
                if self._depth == 1 and self._sent_envelopes:
                    _history().record_sent(self._sent_envelopes)
                    self._sent_envelopes.clear()
                if self._depth == 1 and self._statuses:
                    number = self._business_number()
                    assert number is not None
                    _history().apply_statuses(number, self._statuses)
                    self._statuses.clear()
        except BaseException:
            self._forget()
            raise
        finally:
            self._depth -= 1
            if not self._depth:
                self._forget()
                self._statuses.clear()

    # -- identity ------------------------------------------------------------------------

    def get_identity_key_pair(self) -> IdentityKeyPair:
        if self._identity is None:
            pair = KeyPair.from_private(unseal(self.device.identity_private_encrypted))
            if pair.public_key.serialize() != bytes(self.device.identity_public):
                raise ValueError("stored identity key pair is inconsistent")
            self._identity = pair
        return self._identity

    def get_local_registration_id(self) -> int:
        return self.device.registration_id

    def _identity_row(self, address: ProtocolAddress) -> PeerIdentity | None:
        return PeerIdentity.objects.filter(
            device=self.device, name=address.name, peer_device_id=address.device_id
        ).first()

    def is_trusted_identity(
        self, address: ProtocolAddress, identity_key: IdentityKey, direction: Direction
    ) -> bool:
        # WhatsApp-style (IdentityPolicy.NOTIFY): accept the new key, show a notice.
        return True

    def save_identity(self, address: ProtocolAddress, identity_key: IdentityKey) -> bool:
        now = clock.now()
        new = identity_key.serialize()
        row = self._identity_row(address)
        if row is None:
            PeerIdentity.objects.create(
                device=self.device,
                name=address.name,
                peer_device_id=address.device_id,
                identity_key=new,
                updated_at=now,
            )
            return False
        old = bytes(row.identity_key)
        if old == new:
            return False
        row.identity_key = new
        row.updated_at = now
        row.save(update_fields=["identity_key", "updated_at"])
        IdentityChangeNotice.objects.create(
            device=self.device,
            name=address.name,
            peer_device_id=address.device_id,
            old_key=old,
            new_key=new,
            created_at=now,
        )
        return True

    def get_identity(self, address: ProtocolAddress) -> IdentityKey | None:
        row = self._identity_row(address)
        return None if row is None else PublicKey.deserialize(bytes(row.identity_key))

    # -- pre-keys ------------------------------------------------------------------------

    def _load(self, kind: str, key_id: int) -> bytes | None:
        row = PreKey.objects.filter(device=self.device, kind=kind, key_id=key_id).first()
        return None if row is None else unseal(row.record_encrypted)

    def _store(self, kind: str, key_id: int, data: bytes, last_resort: bool = False) -> None:
        PreKey.objects.update_or_create(
            device=self.device,
            kind=kind,
            key_id=key_id,
            defaults={"record_encrypted": seal(data), "last_resort": last_resort},
        )

    def load_pre_key(self, pre_key_id: int) -> PreKeyRecord | None:
        data = self._load(PreKey.Kind.ONE_TIME, pre_key_id)
        return None if data is None else PreKeyRecord.from_bytes(data)

    def store_pre_key(self, record: PreKeyRecord) -> None:
        self._store(PreKey.Kind.ONE_TIME, record.key_id, record.to_bytes())

    def remove_pre_key(self, pre_key_id: int) -> None:
        PreKey.objects.filter(
            device=self.device, kind=PreKey.Kind.ONE_TIME, key_id=pre_key_id
        ).delete()

    def load_signed_pre_key(self, signed_pre_key_id: int) -> SignedPreKeyRecord | None:
        data = self._load(PreKey.Kind.SIGNED, signed_pre_key_id)
        return None if data is None else SignedPreKeyRecord.from_bytes(data)

    def store_signed_pre_key(self, record: SignedPreKeyRecord) -> None:
        self._store(PreKey.Kind.SIGNED, record.key_id, record.to_bytes())

    def load_kyber_pre_key(self, kyber_pre_key_id: int) -> KyberPreKeyRecord | None:
        data = self._load(PreKey.Kind.KYBER, kyber_pre_key_id)
        return None if data is None else KyberPreKeyRecord.from_bytes(data)

    def store_kyber_pre_key(self, record: KyberPreKeyRecord) -> None:
        self._store(PreKey.Kind.KYBER, record.key_id, record.to_bytes(), record.last_resort)

    def mark_kyber_pre_key_used(self, kyber_pre_key_id: int) -> None:
        PreKey.objects.filter(
            device=self.device, kind=PreKey.Kind.KYBER, key_id=kyber_pre_key_id, last_resort=False
        ).delete()

    # -- sessions ------------------------------------------------------------------------

    def load_session(self, address: ProtocolAddress) -> SessionRecord | None:
        key = (address.name, address.device_id)
        if self._depth and key in self._sessions:
            return self._sessions[key]
        row = Session.objects.filter(
            device=self.device, name=address.name, peer_device_id=address.device_id
        ).first()
        record = None if row is None else SessionRecord.from_bytes(unseal(row.record_encrypted))
        if self._depth:
            self._sessions[key] = record
        return record

    def store_session(self, address: ProtocolAddress, record: SessionRecord) -> None:
        fields = {"record_encrypted": seal(record.to_bytes()), "updated_at": clock.now()}
        mine = Session.objects.filter(
            device=self.device, name=address.name, peer_device_id=address.device_id
        )
        if not mine.update(**fields):
            Session.objects.create(
                device=self.device, name=address.name, peer_device_id=address.device_id, **fields
            )
        if self._depth:
            self._sessions[(address.name, address.device_id)] = record

    def session_device_ids(self, name: str) -> list[int]:
        return sorted(
            Session.objects.filter(device=self.device, name=name).values_list(
                "peer_device_id", flat=True
            )
        )

    def delete_session(self, address: ProtocolAddress) -> None:
        self._sessions.pop((address.name, address.device_id), None)
        Session.objects.filter(
            device=self.device, name=address.name, peer_device_id=address.device_id
        ).delete()

    # -- client bookkeeping --------------------------------------------------------------

    def get_credential(self) -> tuple[str, str] | None:
        device = self.device
        if not device.credential_encrypted:
            return None
        return device.relay_url, decrypt_text(device.credential_encrypted)

    def set_credential(self, relay_url: str, credential: str) -> None:
        self.device.relay_url = relay_url
        self.device.credential_encrypted = encrypt_text(credential)
        self.device.save(update_fields=["relay_url", "credential_encrypted"])

    def allocate_key_ids(self, kind: str, count: int) -> int:
        column = {"ec": "next_pre_key_id", "kyber": "next_kyber_pre_key_id"}.get(
            kind, "next_signed_pre_key_id"
        )
        with transaction.atomic():
            row = LocalDevice.objects.select_for_update().get(pk=self.device.pk)
            start = int(getattr(row, column))
            LocalDevice.objects.filter(pk=row.pk).update(**{column: start + count})
        setattr(self.device, column, start + count)
        return start

    def get_active_signed_pre_key_id(self) -> int | None:
        return self.device.active_signed_pre_key_id

    def set_active_signed_pre_key_id(self, key_id: int) -> None:
        self.device.active_signed_pre_key_id = key_id
        self.device.save(update_fields=["active_signed_pre_key_id"])

    def _business_number(self) -> PhoneNumber | None:
        if self.device.owner != LocalDevice.Owner.BUSINESS:
            return None
        return self.device.phone_number

    def expect_message(self, peer: str, client_timestamp: int, message_id: int) -> None:
        """The business message about to go to `peer` with this client timestamp: record
        its envelopes onto it."""
        self._sent[(peer, client_timestamp)] = message_id

    def add_message(self, item: HistoryItem) -> None:
        number = self._business_number()
        if number is not None:
            history = _history()
            if self.importing:
                history.import_items(number, [item])
                return
            key = (item.peer, item.client_timestamp)
            message_id = self._sent.get(key)
            if item.direction == "out" and message_id is not None and self._depth:
                self._sent_envelopes.append((message_id, item.guid, item.peer_device_id))
                return
            message_id = history.record_item(number, item, message_id=message_id)
            if item.direction == "out":
                self._sent[key] = message_id
            return
        _handset().add_item(self.device, item)

    def set_message_status(self, guid: str, status: str) -> bool:
        """Apply a receipt to the message it names; False when none matches. Inside a unit
        of work a business number's receipts wait for the unit's end (True: taken)."""
        number = self._business_number()
        if number is not None:
            if self._depth:
                self._statuses.append((guid, status))
                return True
            return _history().apply_status(number, guid, status)
        return _handset().apply_status(self.device, guid, status)

    def list_messages(self, peer: str | None = None) -> list[HistoryItem]:
        number = self._business_number()
        if number is not None:
            return _history().list_items(number, peer)
        return _handset().list_items(self.device, peer)

    def list_identity_changes(self) -> list[IdentityChange]:
        return [
            IdentityChange(
                ProtocolAddress(n.name, n.peer_device_id),
                PublicKey.deserialize(bytes(n.old_key)),
                PublicKey.deserialize(bytes(n.new_key)),
            )
            for n in IdentityChangeNotice.objects.filter(device=self.device)
        ]

    def count(
        self,
        *,
        key_agreements: int = 0,
        key_agreement_failures: int = 0,
        decryptions: int = 0,
        decryption_failures: int = 0,
    ) -> None:
        do_count_health(
            self.device,
            key_agreements=key_agreements,
            key_agreement_failures=key_agreement_failures,
            decryptions=decryptions,
            decryption_failures=decryption_failures,
        )

    def get_health(self) -> Health:
        return get_device_health(self.device)

    def export_store(self) -> InMemoryProtocolStore:
        store = InMemoryProtocolStore(self.get_identity_key_pair(), self.device.registration_id)
        for ident in PeerIdentity.objects.filter(device=self.device):
            address = ProtocolAddress(ident.name, ident.peer_device_id)
            store.identities[address] = PublicKey.deserialize(bytes(ident.identity_key))
        for key in PreKey.objects.filter(device=self.device):
            data = unseal(key.record_encrypted)
            if key.kind == PreKey.Kind.ONE_TIME:
                store.store_pre_key(PreKeyRecord.from_bytes(data))
            elif key.kind == PreKey.Kind.SIGNED:
                store.store_signed_pre_key(SignedPreKeyRecord.from_bytes(data))
            else:
                store.store_kyber_pre_key(KyberPreKeyRecord.from_bytes(data))
        for session in Session.objects.filter(device=self.device):
            address = ProtocolAddress(session.name, session.peer_device_id)
            store.sessions[address] = SessionRecord.from_bytes(unseal(session.record_encrypted))
        return store
