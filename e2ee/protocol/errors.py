"""One error hierarchy for the protocol core.

Every failure a caller can act on is a subclass of :class:`ProtocolError`, so the
Django glue can map them to API errors without catching anything broader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .address import ProtocolAddress
    from .keys import IdentityKey


class ProtocolError(Exception):
    """Base class of every error raised by ``e2ee.protocol``."""


class InvalidMessageError(ProtocolError):
    """The bytes are not a well-formed message (bad encoding, version or field)."""


class InvalidVersionError(InvalidMessageError):
    """The message uses a protocol version this implementation does not speak."""


class BadMacError(InvalidMessageError):
    """The message failed authentication: wrong key, tampered, or not for us."""


class DuplicateMessageError(InvalidMessageError):
    """The message was already decrypted (replay), or its key was already discarded."""


class TooFarAheadError(InvalidMessageError):
    """The message counter jumps further ahead than the bound allows."""


class NoSessionError(ProtocolError):
    """There is no session with the peer (yet): fetch a pre-key bundle first."""


class InvalidKeyError(ProtocolError):
    """A key is malformed: wrong type byte, wrong length, or a degenerate point."""


class InvalidSignatureError(InvalidKeyError):
    """A signed pre-key or Kyber pre-key signature does not verify."""


class InvalidPreKeyError(ProtocolError):
    """A pre-key referenced by a message or bundle is missing or unusable."""


class UntrustedIdentityError(ProtocolError):
    """The peer's identity key differs from the one we trust.

    The application shows a key-change notice; once the user accepts, it saves the
    new identity (``store.save_identity``) and retries.
    """

    def __init__(self, address: ProtocolAddress, identity_key: IdentityKey) -> None:
        super().__init__(f"untrusted identity for {address}")
        self.address = address
        self.identity_key = identity_key


class InvalidStateError(ProtocolError):
    """Serialised state is corrupt or of an unknown version."""


class MediaIntegrityError(ProtocolError):
    """An encrypted media file failed its MAC or hash check."""


class BackupError(ProtocolError):
    """An encrypted backup is malformed."""


class WrongBackupKeyError(BackupError):
    """The recovery key or password does not open this backup."""
