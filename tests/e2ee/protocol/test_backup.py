"""End-to-end encrypted backups: recovery key, password, wrong key, restore and continue."""

from __future__ import annotations

import pytest

from e2ee.protocol import BackupError, InMemoryProtocolStore, WrongBackupKeyError
from e2ee.protocol.backup import (
    export_backup,
    format_recovery_key,
    generate_recovery_key,
    restore_backup,
)

from .helpers import NOW, connect, make_device, receive, send

HISTORY = [
    {"from": "bob", "text": "see you at 5", "at": NOW},
    {"from": "me", "text": "👍", "at": NOW + 1},
]


def test_recovery_key_is_64_digits() -> None:
    key = generate_recovery_key()
    assert len(key) == 64
    assert key.isdigit()
    assert generate_recovery_key() != key
    assert format_recovery_key(key).replace(" ", "") == key


def test_backup_with_recovery_key_restores_and_conversation_continues() -> None:
    alice, bob = make_device("alice"), make_device("bob")
    connect(alice, bob)
    assert receive(bob, alice, send(alice, bob, b"before backup")) == b"before backup"
    key = generate_recovery_key()
    blob = export_backup(bob.store, HISTORY, created_at=NOW, recovery_key=key)
    assert b"before backup" not in blob
    assert b"see you at 5" not in blob
    assert bob.store.identity_key_pair.private_key.raw not in blob

    restored = restore_backup(blob, recovery_key=format_recovery_key(key))
    assert restored.history == HISTORY
    assert restored.created_at == NOW
    assert restored.store.to_bytes() == bob.store.to_bytes()

    bob.store = restored.store
    bob.client.store = restored.store
    assert receive(bob, alice, send(alice, bob, b"after restore")) == b"after restore"
    assert receive(alice, bob, send(bob, alice, b"hello again")) == b"hello again"


def test_backup_with_password() -> None:
    device = make_device("carol")
    blob = export_backup(
        device.store, HISTORY, created_at=NOW, password="correct horse", scrypt_log2_n=12
    )
    restored = restore_backup(blob, password="correct horse")
    assert isinstance(restored.store, InMemoryProtocolStore)
    assert restored.store.to_bytes() == device.store.to_bytes()
    with pytest.raises(WrongBackupKeyError):
        restore_backup(blob, password="Correct horse")
    with pytest.raises(WrongBackupKeyError):
        restore_backup(blob, recovery_key=generate_recovery_key())


def test_wrong_recovery_key_is_a_clear_error() -> None:
    device = make_device("dave")
    blob = export_backup(device.store, created_at=NOW, recovery_key=generate_recovery_key())
    with pytest.raises(WrongBackupKeyError):
        restore_backup(blob, recovery_key=generate_recovery_key())
    with pytest.raises(WrongBackupKeyError):
        restore_backup(blob, recovery_key="1234")
    with pytest.raises(WrongBackupKeyError):
        restore_backup(blob, password="not this kind")


def test_damaged_backup_is_rejected() -> None:
    device = make_device("erin")
    key = generate_recovery_key()
    blob = bytearray(export_backup(device.store, created_at=NOW, recovery_key=key))
    blob[-1] ^= 1
    with pytest.raises(BackupError):
        restore_backup(bytes(blob), recovery_key=key)
    with pytest.raises(BackupError):
        restore_backup(b"garbage", recovery_key=key)
    with pytest.raises(ValueError, match="exactly one"):
        export_backup(device.store, created_at=NOW)
