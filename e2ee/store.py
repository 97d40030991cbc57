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
import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from django.db import connection, transaction

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
from parley.core.bulk import update_rows
from parley.core.crypto import decrypt_text, encrypt_text

# A peer's device: (name, device id).
Key = tuple[str, int]


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
    """A :class:`~e2ee.client.state.DeviceState` in the database.

    With `sole_writer`, the caller promises that no other process writes this device's
    sessions or its peers' identities while this object lives (the handset fleet, for the
    phones it runs: the `handset` command goes through it). What each committed unit of work
    read and wrote of them is then kept, and later units read it from memory instead of the
    database; a unit that fails, or one that is not committed on its own, forgets it all."""

    def __init__(self, device: LocalDevice, *, sole_writer: bool = False) -> None:
        self.device = device
        self.e164 = device.e164
        self.device_id = device.device_id
        self._identity: IdentityKeyPair | None = None
        # A business number's history lives in parley.messaging (the business's one copy
        # of each message); the endpoint service names the messages it is sending here
        # (`expect_message`), by peer and client timestamp.
        self.importing = False  # a restored backup: copy history quietly
        # Identity changes this store recorded (a notice each), so its user can tell
        # whether there is anything to announce without asking the database.
        self.identity_changes = 0
        self._sent: dict[tuple[str, int], int] = {}
        # Inside one unit of work the sessions it read or wrote are kept here, so a batch
        # that encrypts many messages reads each session once; forgotten when the outermost
        # unit ends or anything in it fails (a rolled-back ratchet step must not survive).
        self._depth = 0
        self._sessions: dict[Key, SessionRecord | None] = {}
        # What the unit knows of the session rows: a row's id (None: no row), the device
        # ids of a peer's rows, and the peers whose records it has read.
        self._session_pks: dict[Key, int | None] = {}
        self._device_ids: dict[str, set[int]] = {}
        self._records_read: set[str] = set()
        # The peers' identity keys (row id, key; None: no row), and the peers whose rows
        # it has read.
        self._identities: dict[Key, tuple[int, bytes] | None] = {}
        self._identities_read: set[str] = set()
        # The peers the unit is about to use (`prefetch`): the first need of one of them
        # reads what it needs of them all, in one query per table.
        self._hinted: set[str] = set()
        # Sessions stored in the unit, written together (one statement) when it ends or
        # before a nested unit starts (so a nested unit that fails rolls back only its own).
        self._dirty: dict[Key, tuple[SessionRecord, dt.datetime]] = {}
        # Envelopes of expected business messages, recorded together when the unit ends.
        self._sent_envelopes: list[tuple[int, str, int]] = []
        # Receipts about a business number's messages (guid, status), applied together when
        # the outermost unit ends (a page of receipts: one read and one lock for all);
        # dropped only when that unit fails, as its transaction is.
        self._statuses: list[tuple[str, str]] = []
        # What the unit read or wrote of session rows (the record's bytes, None: no row),
        # and, for a sole writer, what committed units left: a session's (row id, bytes),
        # a peer's identity (row id, key; None: no row).
        self._raw: dict[Key, bytes | None] = {}
        self._sole_writer = sole_writer
        self._kept_sessions: dict[Key, tuple[int | None, bytes | None]] = {}
        self._kept_identities: dict[Key, tuple[int, bytes] | None] = {}

    def _forget(self) -> None:
        self._raw.clear()
        self._sessions.clear()
        self._session_pks.clear()
        self._device_ids.clear()
        self._records_read.clear()
        self._identities.clear()
        self._identities_read.clear()
        self._dirty.clear()
        self._sent_envelopes.clear()

    # -- unit of work --------------------------------------------------------------------

    def atomic(self) -> AbstractContextManager[Any]:
        return self._unit()

    @contextmanager
    def _unit(self) -> Iterator[None]:
        if self._depth:
            # What the enclosing unit stored stands whatever this one does.
            self._flush_sessions()
        self._depth += 1
        try:
            with transaction.atomic():
                yield
                if self._depth == 1:
                    self._flush_sessions()
                if self._depth == 1 and self._sent_envelopes:
                    _history().record_sent(self._sent_envelopes)
                    self._sent_envelopes.clear()
                if self._depth == 1 and self._statuses:
                    number = self._business_number()
                    assert number is not None
                    _history().apply_statuses(number, self._statuses)
                    self._statuses.clear()
        except BaseException:
            self._forget_kept()
            self._forget()
            raise
        finally:
            self._depth -= 1
            if not self._depth:
                self._keep()
                self._forget()
                self._statuses.clear()
                self._hinted.clear()

    def _keep(self) -> None:
        """A sole writer keeps what the outermost unit read and wrote, once it is committed
        (not when an enclosing transaction may still roll it back)."""
        if not self._sole_writer:
            return
        if connection.in_atomic_block:
            self._forget_kept()
            return
        for key, raw in self._raw.items():
            pk = self._session_pks.get(key)
            if raw is None or pk is not None:
                self._kept_sessions[key] = (pk, raw)
            else:
                self._kept_sessions.pop(key, None)  # its row id is not known
        self._kept_identities.update(self._identities)

    def _forget_kept(self) -> None:
        self._kept_sessions.clear()
        self._kept_identities.clear()

    def prefetch(self, names: Iterable[str]) -> None:
        """The peers the current unit of work is about to use (a batch of messages to
        send): the first need of one of them reads their sessions, devices and identities
        for all of them, a query per table. Outside a unit of work it does nothing."""
        if self._depth:
            self._hinted.update(names)

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

    def _identity_row(self, address: ProtocolAddress) -> tuple[int, bytes] | None:
        """The row id and key of the identity saved for `address` (in a unit of work: read
        once, with those of the other peers it is about to use)."""
        key = (address.name, address.device_id)
        if self._depth and key in self._identities:
            return self._identities[key]
        if (
            self._depth
            and address.name in self._hinted
            and address.name not in self._identities_read
        ):
            names = sorted(self._hinted - self._identities_read)
            rows = PeerIdentity.objects.filter(device=self.device, name__in=names)
            for pk, name, device_id, identity in rows.values_list(
                "pk", "name", "peer_device_id", "identity_key"
            ):
                self._identities.setdefault((name, device_id), (pk, bytes(identity)))
            self._identities_read.update(names)
        if self._depth and address.name in self._identities_read:
            return self._identities.setdefault(key, None)
        if self._depth and key in self._kept_identities:
            self._identities[key] = self._kept_identities[key]
            return self._identities[key]
        row = (
            PeerIdentity.objects.filter(
                device=self.device, name=address.name, peer_device_id=address.device_id
            )
            .values_list("pk", "identity_key")
            .first()
        )
        found = None if row is None else (int(row[0]), bytes(row[1]))
        if self._depth:
            self._identities[key] = found
        return found

    def is_trusted_identity(
        self, address: ProtocolAddress, identity_key: IdentityKey, direction: Direction
    ) -> bool:
        # WhatsApp-style (IdentityPolicy.NOTIFY): accept the new key, show a notice.
        return True

    def save_identity(self, address: ProtocolAddress, identity_key: IdentityKey) -> bool:
        now = clock.now()
        new = identity_key.serialize()
        key = (address.name, address.device_id)
        known = self._identity_row(address)
        if known is None:
            row = PeerIdentity.objects.create(
                device=self.device,
                name=address.name,
                peer_device_id=address.device_id,
                identity_key=new,
                updated_at=now,
            )
            if self._depth:
                self._identities[key] = (row.pk, new)
            else:
                self._kept_identities.pop(key, None)
            return False
        pk, old = known
        if old == new:
            return False
        PeerIdentity.objects.filter(pk=pk).update(identity_key=new, updated_at=now)
        if self._depth:
            self._identities[key] = (pk, new)
        else:
            self._kept_identities.pop(key, None)
        IdentityChangeNotice.objects.create(
            device=self.device,
            name=address.name,
            peer_device_id=address.device_id,
            old_key=old,
            new_key=new,
            created_at=now,
        )
        self.identity_changes += 1
        return True

    def get_identity(self, address: ProtocolAddress) -> IdentityKey | None:
        known = self._identity_row(address)
        return None if known is None else PublicKey.deserialize(known[1])

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
        if not self._depth:
            return self._read_session(key)
        if key in self._sessions:
            return self._sessions[key]
        if address.name in self._hinted and address.name not in self._records_read:
            self._read_hinted_records()
            if key in self._sessions:
                return self._sessions[key]
        ids = self._device_ids.get(address.name)
        if ids is not None and address.device_id not in ids:
            # The unit read this peer's rows: there is none for that device.
            self._session_pks[key] = None
            self._sessions[key] = None
            return None
        record = self._read_session(key)
        self._sessions[key] = record
        return record

    def _read_session(self, key: Key) -> SessionRecord | None:
        if self._depth and key in self._kept_sessions:
            pk, raw = self._kept_sessions[key]
        else:
            name, device_id = key
            row = (
                Session.objects.filter(device=self.device, name=name, peer_device_id=device_id)
                .values_list("pk", "record_encrypted")
                .first()
            )
            pk, raw = (None, None) if row is None else (int(row[0]), unseal(row[1]))
        if self._depth:
            self._session_pks[key] = pk
            self._raw[key] = raw
        return None if raw is None else SessionRecord.from_bytes(raw)

    def _index_sessions(self, names: set[str]) -> None:
        """Read which devices of these peers (and of every peer hinted) have a session."""
        missing = sorted((names | self._hinted) - self._device_ids.keys())
        if not missing:
            return
        for name in missing:
            self._device_ids[name] = set()
        rows = Session.objects.filter(device=self.device, name__in=missing)
        for pk, name, device_id in rows.values_list("pk", "name", "peer_device_id"):
            self._device_ids[name].add(device_id)
            self._session_pks.setdefault((name, device_id), pk)
        # Sessions stored in this unit and not written yet.
        for name, device_id in self._dirty:
            if name in self._device_ids:
                self._device_ids[name].add(device_id)

    def _read_hinted_records(self) -> None:
        """The sessions of every hinted peer not read yet, in one query."""
        names = self._hinted - self._records_read
        self._index_sessions(names)
        wanted: dict[int, Key] = {}
        for name in names:
            for device_id in self._device_ids[name]:
                key = (name, device_id)
                pk = self._session_pks.get(key)
                if key not in self._sessions and pk is not None:
                    wanted[pk] = key
        if wanted:
            rows = Session.objects.filter(pk__in=sorted(wanted))
            for pk, token in rows.values_list("pk", "record_encrypted"):
                raw = unseal(token)
                self._raw[wanted[pk]] = raw
                self._sessions[wanted[pk]] = SessionRecord.from_bytes(raw)
        self._records_read.update(names)

    def store_session(self, address: ProtocolAddress, record: SessionRecord) -> None:
        key = (address.name, address.device_id)
        now = clock.now()
        if self._depth and key in self._session_pks:
            # Written when the unit ends: a batch that ratchets many sessions (or one many
            # times) writes each once, all in one statement.
            self._dirty[key] = (record, now)
        else:
            raw = record.to_bytes()
            fields = {"record_encrypted": seal(raw), "updated_at": now}
            if self._depth:
                self._raw[key] = raw  # its row id unknown: not kept
            else:
                self._kept_sessions.pop(key, None)
            mine = Session.objects.filter(
                device=self.device, name=address.name, peer_device_id=address.device_id
            )
            if not mine.update(**fields):
                Session.objects.create(
                    device=self.device,
                    name=address.name,
                    peer_device_id=address.device_id,
                    **fields,
                )
        if self._depth:
            self._sessions[key] = record
            ids = self._device_ids.get(address.name)
            if ids is not None:
                ids.add(address.device_id)

    def _flush_sessions(self) -> None:
        """Write the sessions stored in this unit: the rows it read in one UPDATE, new
        ones in one INSERT."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        changed: list[tuple[int, str, dt.datetime]] = []
        new: list[Session] = []
        for key, (record, at) in dirty.items():
            pk = self._session_pks.get(key)
            raw = record.to_bytes()
            self._raw[key] = raw
            token = seal(raw)
            if pk is not None:
                changed.append((pk, token, at))
            else:
                new.append(
                    Session(
                        device=self.device,
                        name=key[0],
                        peer_device_id=key[1],
                        record_encrypted=token,
                        updated_at=at,
                    )
                )
        update_rows(Session, ["record_encrypted", "updated_at"], sorted(changed))
        if new:
            Session.objects.bulk_create(new)
            for row in new:
                key = (row.name, row.peer_device_id)
                if row.pk is None:
                    # Not returned by this database: a later store of it writes at once.
                    self._session_pks.pop(key, None)
                else:
                    self._session_pks[key] = row.pk

    def session_device_ids(self, name: str) -> list[int]:
        if self._depth:
            self._index_sessions({name})
            return sorted(self._device_ids[name])
        return sorted(
            Session.objects.filter(device=self.device, name=name).values_list(
                "peer_device_id", flat=True
            )
        )

    def delete_session(self, address: ProtocolAddress) -> None:
        key = (address.name, address.device_id)
        self._sessions.pop(key, None)
        self._dirty.pop(key, None)
        if self._depth:
            self._session_pks[key] = None
            self._raw[key] = None
            ids = self._device_ids.get(address.name)
            if ids is not None:
                ids.discard(address.device_id)
        else:
            self._kept_sessions.pop(key, None)
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
        if self._depth:
            self._flush_sessions()
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
