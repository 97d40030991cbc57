"""Parley's Signal protocol core: pure Python, no Django.

Modules (each small, named for what it does):

* ``keys`` / ``xeddsa`` / ``kdf`` -- Curve25519 + ML-KEM-1024 keys, XEdDSA, HKDF.
* ``prekeys`` -- pre-key records, the published bundle, key generation helpers.
* ``x3dh`` -- X3DH / PQXDH session initialisation.
* ``ratchet`` -- the Double Ratchet (pure: state in, state out).
* ``wire`` / ``protobuf`` -- libsignal's ``SignalMessage`` / ``PreKeySignalMessage`` bytes.
* ``record`` / ``store`` -- session records, the storage port and an in-memory adapter.
* ``session`` -- the high-level API (start_session, encrypt, decrypt).
* ``fingerprint`` -- 60-digit safety numbers and their QR code.
* ``media`` -- streaming attachment encryption.
* ``backup`` -- end-to-end encrypted backups.
* ``errors`` -- the one error hierarchy.
"""

from .address import ProtocolAddress
from .errors import (
    BackupError,
    BadMacError,
    DuplicateMessageError,
    InvalidKeyError,
    InvalidMessageError,
    InvalidPreKeyError,
    InvalidSignatureError,
    InvalidStateError,
    InvalidVersionError,
    MediaIntegrityError,
    NoSessionError,
    ProtocolError,
    TooFarAheadError,
    UntrustedIdentityError,
    WrongBackupKeyError,
)
from .keys import (
    IdentityKey,
    IdentityKeyPair,
    KemKeyPair,
    KemPublicKey,
    KeyPair,
    PrivateKey,
    PublicKey,
    generate_registration_id,
)
from .prekeys import (
    KyberPreKeyRecord,
    PreKeyBundle,
    PreKeyRecord,
    SignedPreKeyRecord,
    generate_identity_key_pair,
    generate_kyber_pre_key,
    generate_last_resort_kyber_pre_key,
    generate_pre_keys,
    generate_signed_pre_key,
)
from .record import SessionRecord
from .session import (
    SessionClient,
    bundle_from_store,
    decrypt,
    encrypt,
    process_prekey_bundle,
    start_session,
)
from .store import Direction, IdentityChange, IdentityPolicy, InMemoryProtocolStore, ProtocolStore
from .wire import MessageType

__all__ = [
    "BackupError",
    "BadMacError",
    "Direction",
    "DuplicateMessageError",
    "IdentityChange",
    "IdentityKey",
    "IdentityKeyPair",
    "IdentityPolicy",
    "InMemoryProtocolStore",
    "InvalidKeyError",
    "InvalidMessageError",
    "InvalidPreKeyError",
    "InvalidSignatureError",
    "InvalidStateError",
    "InvalidVersionError",
    "KemKeyPair",
    "KemPublicKey",
    "KeyPair",
    "KyberPreKeyRecord",
    "MediaIntegrityError",
    "MessageType",
    "NoSessionError",
    "PreKeyBundle",
    "PreKeyRecord",
    "PrivateKey",
    "ProtocolAddress",
    "ProtocolError",
    "ProtocolStore",
    "PublicKey",
    "SessionClient",
    "SessionRecord",
    "SignedPreKeyRecord",
    "TooFarAheadError",
    "UntrustedIdentityError",
    "WrongBackupKeyError",
    "bundle_from_store",
    "decrypt",
    "encrypt",
    "generate_identity_key_pair",
    "generate_kyber_pre_key",
    "generate_last_resort_kyber_pre_key",
    "generate_pre_keys",
    "generate_registration_id",
    "generate_signed_pre_key",
    "process_prekey_bundle",
    "start_session",
]
