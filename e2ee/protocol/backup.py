"""End-to-end encrypted backups of a device: identity, sessions, pre-keys and history.

The backup is sealed with AES-256-GCM under a key only the user holds: either a
64-digit recovery key (expanded with HKDF) or a password stretched with scrypt. The
storage provider sees only this layout, all of it authenticated as GCM associated
data::

    magic "PRLYBAK1" | kdf (1) | salt (16) | log2 N (1) | r (1) | p (1) | nonce (12) | ciphertext
"""

from __future__ import annotations

import json
import os
import secrets
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import BackupError, InvalidStateError, WrongBackupKeyError
from .jsonsafe import JsonDict, as_dict, check_version, get_dict, get_int, get_list
from .kdf import hkdf_sha256
from .store import InMemoryProtocolStore

MAGIC = b"PRLYBAK1"
RECOVERY_KEY_DIGITS = 64
BACKUP_FORMAT_VERSION = 1
DEFAULT_SCRYPT_LOG2_N = 15
_KDF_RECOVERY_KEY = 1
_KDF_SCRYPT = 2
_HEADER_LENGTH = len(MAGIC) + 1 + 16 + 3 + 12


def generate_recovery_key() -> str:
    """64 random decimal digits (~212 bits), for the user to write down."""
    return "".join(str(secrets.randbelow(10)) for _ in range(RECOVERY_KEY_DIGITS))


def format_recovery_key(recovery_key: str) -> str:
    digits = _normalise_recovery_key(recovery_key)
    return " ".join(digits[i : i + 4] for i in range(0, RECOVERY_KEY_DIGITS, 4))


def _normalise_recovery_key(recovery_key: str) -> str:
    digits = "".join(ch for ch in recovery_key if ch not in " -\t\n")
    if len(digits) != RECOVERY_KEY_DIGITS or not digits.isascii() or not digits.isdigit():
        raise WrongBackupKeyError("a recovery key is exactly 64 digits")
    return digits


@dataclass(frozen=True)
class BackupContents:
    store: InMemoryProtocolStore
    history: list[JsonDict]
    created_at: int


def _derive_key(
    kdf: int,
    salt: bytes,
    log2_n: int,
    r: int,
    p: int,
    recovery_key: str | None,
    password: str | None,
) -> bytes:
    if kdf == _KDF_RECOVERY_KEY:
        if recovery_key is None:
            raise WrongBackupKeyError("this backup is opened with a recovery key")
        digits = _normalise_recovery_key(recovery_key)
        return hkdf_sha256(digits.encode(), b"Parley Backup Key", 32, salt=salt)
    if kdf == _KDF_SCRYPT:
        if password is None:
            raise WrongBackupKeyError("this backup is opened with a password")
        if not 10 <= log2_n <= 22 or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise BackupError("unreasonable scrypt parameters")
        return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(password.encode())
    raise BackupError(f"unknown key derivation {kdf}")


def export_backup(
    store: InMemoryProtocolStore,
    history: Sequence[Mapping[str, object]] = (),
    *,
    created_at: int,
    recovery_key: str | None = None,
    password: str | None = None,
    scrypt_log2_n: int = DEFAULT_SCRYPT_LOG2_N,
) -> bytes:
    """Seal the store and message history under exactly one of recovery key or password."""
    if (recovery_key is None) == (password is None):
        raise ValueError("give exactly one of recovery_key or password")
    kdf = _KDF_RECOVERY_KEY if recovery_key is not None else _KDF_SCRYPT
    salt = os.urandom(16)
    log2_n, r, p = (scrypt_log2_n, 8, 1) if kdf == _KDF_SCRYPT else (0, 0, 0)
    nonce = os.urandom(12)
    header = MAGIC + bytes([kdf]) + salt + bytes([log2_n, r, p]) + nonce
    key = _derive_key(kdf, salt, log2_n, r, p, recovery_key, password)
    payload: JsonDict = {
        "kind": "backup",
        "v": BACKUP_FORMAT_VERSION,
        "created_at": created_at,
        "store": store.to_dict(),
        "history": [dict(item) for item in history],
    }
    try:
        plaintext = zlib.compress(
            json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        )
    except (TypeError, ValueError) as exc:
        raise BackupError("history must be JSON-safe") from exc
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def restore_backup(
    blob: bytes, *, recovery_key: str | None = None, password: str | None = None
) -> BackupContents:
    """Open a backup into a fresh in-memory store; a wrong key is :class:`WrongBackupKeyError`."""
    if len(blob) < _HEADER_LENGTH + 16 or not blob.startswith(MAGIC):
        raise BackupError("not a Parley backup")
    header = blob[:_HEADER_LENGTH]
    kdf = header[len(MAGIC)]
    salt = header[len(MAGIC) + 1 : len(MAGIC) + 17]
    log2_n, r, p = header[len(MAGIC) + 17 : len(MAGIC) + 20]
    nonce = header[-12:]
    key = _derive_key(kdf, salt, log2_n, r, p, recovery_key, password)
    try:
        plaintext = AESGCM(key).decrypt(nonce, blob[_HEADER_LENGTH:], header)
    except InvalidTag as exc:
        raise WrongBackupKeyError("wrong recovery key or password (or a damaged backup)") from exc
    try:
        payload = as_dict(json.loads(zlib.decompress(plaintext)))
        check_version(payload, "backup", BACKUP_FORMAT_VERSION)
        store = InMemoryProtocolStore.from_dict(get_dict(payload, "store"))
        history = [as_dict(item) for item in get_list(payload, "history")]
        return BackupContents(store, history, get_int(payload, "created_at"))
    except (zlib.error, ValueError, InvalidStateError) as exc:
        raise BackupError("backup contents are corrupt") from exc
