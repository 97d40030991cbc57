"""Attachment encryption, WhatsApp style, streaming in constant memory.

A random 32-byte media key is expanded with HKDF-SHA256 (no salt, a per-type info
string) into 112 bytes: IV (16) || AES-256 key (32) || MAC key (32) || unused (32).
The file is AES-256-CBC (PKCS#7) encrypted and followed by the first 10 bytes of
HMAC-SHA256(MAC key, IV || ciphertext). The SHA-256 of the plaintext and of the
uploaded bytes (ciphertext || MAC) are recorded so the receiver can check both.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import BinaryIO

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import MediaIntegrityError
from .kdf import hkdf_sha256

MAC_LENGTH = 10
MEDIA_KEY_LENGTH = 32
CHUNK_SIZE = 64 * 1024


class MediaType(Enum):
    IMAGE = b"WhatsApp Image Keys"
    VIDEO = b"WhatsApp Video Keys"
    AUDIO = b"WhatsApp Audio Keys"
    DOCUMENT = b"WhatsApp Document Keys"


@dataclass(frozen=True)
class MediaKeys:
    iv: bytes
    cipher_key: bytes
    mac_key: bytes

    @classmethod
    def expand(cls, media_key: bytes, media_type: MediaType) -> MediaKeys:
        if len(media_key) != MEDIA_KEY_LENGTH:
            raise ValueError("media keys are 32 bytes")
        okm = hkdf_sha256(media_key, media_type.value, 112)
        return cls(okm[:16], okm[16:48], okm[48:80])


@dataclass(frozen=True)
class EncryptedMedia:
    """What the sender puts in the (end-to-end encrypted) attachment message."""

    media_key: bytes
    media_type: MediaType
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int
    enc_length: int


def _chunks(src: BinaryIO) -> Iterator[bytes]:
    while chunk := src.read(CHUNK_SIZE):
        yield chunk


def encrypt_media(
    src: BinaryIO, dst: BinaryIO, media_type: MediaType, *, media_key: bytes | None = None
) -> EncryptedMedia:
    key = os.urandom(MEDIA_KEY_LENGTH) if media_key is None else media_key
    keys = MediaKeys.expand(key, media_type)
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    padder = padding.PKCS7(128).padder()
    mac = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
    plain_hash, enc_hash = hashlib.sha256(), hashlib.sha256()
    length = enc_length = 0

    def emit(block: bytes) -> None:
        nonlocal enc_length
        if block:
            mac.update(block)
            enc_hash.update(block)
            dst.write(block)
            enc_length += len(block)

    for chunk in _chunks(src):
        plain_hash.update(chunk)
        length += len(chunk)
        emit(encryptor.update(padder.update(chunk)))
    emit(encryptor.update(padder.finalize()) + encryptor.finalize())
    tag = mac.digest()[:MAC_LENGTH]
    enc_hash.update(tag)
    dst.write(tag)
    return EncryptedMedia(
        key, media_type, plain_hash.digest(), enc_hash.digest(), length, enc_length + MAC_LENGTH
    )


def _body_and_tag(src: BinaryIO) -> Iterator[bytes]:
    """Yield the ciphertext in chunks; the final item yielded is the 10-byte MAC."""
    held = b""
    for chunk in _chunks(src):
        held += chunk
        if len(held) > MAC_LENGTH:
            yield held[:-MAC_LENGTH]
            held = held[-MAC_LENGTH:]
    if len(held) != MAC_LENGTH:
        raise MediaIntegrityError("encrypted media is truncated")
    yield held


def _verify_tag(
    mac: hmac.HMAC, enc_hash: hashlib._Hash, tag: bytes, file_enc_sha256: bytes | None
) -> None:
    enc_hash.update(tag)
    if not hmac.compare_digest(mac.digest()[:MAC_LENGTH], tag):
        raise MediaIntegrityError("media MAC does not verify")
    if file_enc_sha256 is not None and not hmac.compare_digest(enc_hash.digest(), file_enc_sha256):
        raise MediaIntegrityError("encrypted media hash does not match")


def _check_mac(src: BinaryIO, keys: MediaKeys, file_enc_sha256: bytes | None) -> None:
    mac = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
    enc_hash = hashlib.sha256()
    previous: bytes | None = None
    for item in _body_and_tag(src):
        if previous is not None:
            mac.update(previous)
            enc_hash.update(previous)
        previous = item
    _verify_tag(mac, enc_hash, previous or b"", file_enc_sha256)


def decrypt_media(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    media_key: bytes,
    media_type: MediaType,
    file_enc_sha256: bytes | None = None,
    file_sha256: bytes | None = None,
) -> int:
    """Decrypt to ``dst`` and return the plaintext length.

    A seekable ``src`` is authenticated in a first pass, so nothing unauthenticated
    is written. From a non-seekable stream plaintext is written as it is decrypted
    and a :class:`MediaIntegrityError` at the end means ``dst`` must be discarded.
    """
    keys = MediaKeys.expand(media_key, media_type)
    seekable = src.seekable()
    if seekable:
        start = src.tell()
        _check_mac(src, keys, file_enc_sha256)
        src.seek(start)
    decryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    mac = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
    enc_hash, plain_hash = hashlib.sha256(), hashlib.sha256()
    length = 0
    previous: bytes | None = None
    for item in _body_and_tag(src):
        if previous is not None:
            mac.update(previous)
            enc_hash.update(previous)
            block = unpadder.update(decryptor.update(previous))
            plain_hash.update(block)
            dst.write(block)
            length += len(block)
        previous = item
    _verify_tag(mac, enc_hash, previous or b"", file_enc_sha256)
    try:
        block = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError as exc:
        raise MediaIntegrityError("bad padding") from exc
    plain_hash.update(block)
    dst.write(block)
    length += len(block)
    if file_sha256 is not None and not hmac.compare_digest(plain_hash.digest(), file_sha256):
        raise MediaIntegrityError("decrypted media hash does not match")
    return length


def encrypt_media_bytes(data: bytes, media_type: MediaType) -> tuple[bytes, EncryptedMedia]:
    out = io.BytesIO()
    info = encrypt_media(io.BytesIO(data), out, media_type)
    return out.getvalue(), info


def decrypt_media_bytes(data: bytes, info: EncryptedMedia) -> bytes:
    out = io.BytesIO()
    decrypt_media(
        io.BytesIO(data),
        out,
        media_key=info.media_key,
        media_type=info.media_type,
        file_enc_sha256=info.file_enc_sha256,
        file_sha256=info.file_sha256,
    )
    return out.getvalue()
