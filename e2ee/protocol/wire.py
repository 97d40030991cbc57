"""libsignal's wire format: ``SignalMessage`` and ``PreKeySignalMessage``.

Both start with one version byte: the session version in the high nibble (3 for
X3DH, 4 for PQXDH) and libsignal's current ciphertext version (4) in the low
nibble. A ``SignalMessage`` ends with an 8-byte truncated HMAC-SHA256 computed over
sender identity || receiver identity || version byte || protobuf.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import IntEnum

from . import protobuf
from .errors import InvalidKeyError, InvalidMessageError, InvalidVersionError
from .kdf import hmac_sha256
from .keys import IdentityKey, PublicKey

PRE_KYBER_VERSION = 3
KYBER_VERSION = 4
CURRENT_CIPHERTEXT_VERSION = 4
MAC_LENGTH = 8
# Older libsignal (and python-axolotl) write their own version, 3, in the low nibble.
_ACCEPTED_LOW_NIBBLES = (3, 4)


class MessageType(IntEnum):
    """libsignal's ``CiphertextMessageType`` values for the two 1:1 messages."""

    WHISPER = 2
    PREKEY = 3


def _version_byte(session_version: int) -> int:
    return (session_version & 0xF) << 4 | CURRENT_CIPHERTEXT_VERSION


def _check_version_byte(byte: int) -> int:
    version = byte >> 4
    if version not in (PRE_KYBER_VERSION, KYBER_VERSION):
        raise InvalidVersionError(f"unsupported message version {version}")
    if byte & 0xF not in _ACCEPTED_LOW_NIBBLES:
        raise InvalidVersionError(f"unsupported ciphertext version {byte & 0xF}")
    return version


def _public_key(data: bytes | None) -> PublicKey:
    if data is None:
        raise InvalidMessageError("missing key")
    try:
        return PublicKey.deserialize(data)
    except InvalidKeyError as exc:
        raise InvalidMessageError(str(exc)) from exc


@dataclass(frozen=True)
class SignalMessage:
    """A ratchet message. ``serialized`` is the exact bytes on the wire, MAC included."""

    version: int
    ratchet_key: PublicKey
    counter: int
    previous_counter: int
    ciphertext: bytes
    serialized: bytes

    @classmethod
    def build(
        cls,
        *,
        version: int,
        mac_key: bytes,
        ratchet_key: PublicKey,
        counter: int,
        previous_counter: int,
        ciphertext: bytes,
        sender_identity: IdentityKey,
        receiver_identity: IdentityKey,
    ) -> SignalMessage:
        body = (
            bytes([_version_byte(version)])
            + protobuf.encode_bytes(1, ratchet_key.serialize())
            + protobuf.encode_uint(2, counter)
            + protobuf.encode_uint(3, previous_counter)
            + protobuf.encode_bytes(4, ciphertext)
        )
        mac = compute_mac(sender_identity, receiver_identity, mac_key, body)
        return cls(version, ratchet_key, counter, previous_counter, ciphertext, body + mac)

    @classmethod
    def parse(cls, data: bytes) -> SignalMessage:
        if len(data) < 1 + MAC_LENGTH:
            raise InvalidMessageError("message too short")
        version = _check_version_byte(data[0])
        fields = protobuf.decode(data[1:-MAC_LENGTH])
        counter = protobuf.get_uint32(fields, 2)
        ciphertext = protobuf.get_bytes(fields, 4)
        if counter is None or ciphertext is None:
            raise InvalidMessageError("incomplete message")
        return cls(
            version=version,
            ratchet_key=_public_key(protobuf.get_bytes(fields, 1)),
            counter=counter,
            previous_counter=protobuf.get_uint32(fields, 3) or 0,
            ciphertext=ciphertext,
            serialized=bytes(data),
        )

    def verify_mac(
        self, sender_identity: IdentityKey, receiver_identity: IdentityKey, mac_key: bytes
    ) -> bool:
        expected = compute_mac(
            sender_identity, receiver_identity, mac_key, self.serialized[:-MAC_LENGTH]
        )
        return hmac.compare_digest(expected, self.serialized[-MAC_LENGTH:])


def compute_mac(
    sender_identity: IdentityKey, receiver_identity: IdentityKey, mac_key: bytes, body: bytes
) -> bytes:
    data = sender_identity.serialize() + receiver_identity.serialize() + body
    return hmac_sha256(mac_key, data)[:MAC_LENGTH]


@dataclass(frozen=True)
class PreKeySignalMessage:
    """The first messages of a session: X3DH/PQXDH parameters around a SignalMessage."""

    version: int
    registration_id: int
    pre_key_id: int | None
    signed_pre_key_id: int
    kyber_pre_key_id: int | None
    kyber_ciphertext: bytes | None
    base_key: PublicKey
    identity_key: IdentityKey
    message: SignalMessage
    serialized: bytes

    @classmethod
    def build(
        cls,
        *,
        version: int,
        registration_id: int,
        pre_key_id: int | None,
        signed_pre_key_id: int,
        kyber_pre_key_id: int | None,
        kyber_ciphertext: bytes | None,
        base_key: PublicKey,
        identity_key: IdentityKey,
        message: SignalMessage,
    ) -> PreKeySignalMessage:
        parts = [bytes([_version_byte(version)])]
        if pre_key_id is not None:
            parts.append(protobuf.encode_uint(1, pre_key_id))
        parts.append(protobuf.encode_bytes(2, base_key.serialize()))
        parts.append(protobuf.encode_bytes(3, identity_key.serialize()))
        parts.append(protobuf.encode_bytes(4, message.serialized))
        parts.append(protobuf.encode_uint(5, registration_id))
        parts.append(protobuf.encode_uint(6, signed_pre_key_id))
        if kyber_pre_key_id is not None and kyber_ciphertext is not None:
            parts.append(protobuf.encode_uint(7, kyber_pre_key_id))
            parts.append(protobuf.encode_bytes(8, kyber_ciphertext))
        return cls(
            version,
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            kyber_pre_key_id,
            kyber_ciphertext,
            base_key,
            identity_key,
            message,
            b"".join(parts),
        )

    @classmethod
    def parse(cls, data: bytes) -> PreKeySignalMessage:
        if not data:
            raise InvalidMessageError("empty message")
        version = _check_version_byte(data[0])
        fields = protobuf.decode(data[1:])
        signed_pre_key_id = protobuf.get_uint32(fields, 6)
        inner = protobuf.get_bytes(fields, 4)
        if signed_pre_key_id is None or inner is None:
            raise InvalidMessageError("incomplete pre-key message")
        kyber_id = protobuf.get_uint32(fields, 7)
        kyber_ciphertext = protobuf.get_bytes(fields, 8)
        if (kyber_id is None) != (kyber_ciphertext is None):
            raise InvalidMessageError("both or neither Kyber fields must be present")
        if version >= KYBER_VERSION and kyber_id is None:
            raise InvalidMessageError("a version 4 pre-key message needs a Kyber pre-key")
        if version < KYBER_VERSION and kyber_id is not None:
            raise InvalidMessageError("a version 3 pre-key message cannot carry Kyber fields")
        message = SignalMessage.parse(inner)
        if message.version != version:
            raise InvalidMessageError("inner message version differs")
        return cls(
            version=version,
            registration_id=protobuf.get_uint32(fields, 5) or 0,
            pre_key_id=protobuf.get_uint32(fields, 1),
            signed_pre_key_id=signed_pre_key_id,
            kyber_pre_key_id=kyber_id,
            kyber_ciphertext=kyber_ciphertext,
            base_key=_public_key(protobuf.get_bytes(fields, 2)),
            identity_key=_public_key(protobuf.get_bytes(fields, 3)),
            message=message,
            serialized=bytes(data),
        )
