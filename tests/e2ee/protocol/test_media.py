"""Attachment encryption: round trips, streaming of large files, tamper rejection."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
from typing import BinaryIO

import pytest

from e2ee.protocol import MediaIntegrityError
from e2ee.protocol.media import (
    MediaKeys,
    MediaType,
    decrypt_media,
    decrypt_media_bytes,
    encrypt_media,
    encrypt_media_bytes,
)


@pytest.mark.parametrize("media_type", list(MediaType))
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 65_536, 200_001])
def test_round_trip(media_type: MediaType, size: int) -> None:
    data = os.urandom(size)
    encrypted, info = encrypt_media_bytes(data, media_type)
    assert len(encrypted) == info.enc_length == (size // 16 + 1) * 16 + 10
    assert info.file_sha256 == hashlib.sha256(data).digest()
    assert info.file_enc_sha256 == hashlib.sha256(encrypted).digest()
    assert info.file_length == size
    assert decrypt_media_bytes(encrypted, info) == data


def test_media_types_derive_different_keys() -> None:
    key = os.urandom(32)
    derived = {MediaKeys.expand(key, media_type) for media_type in MediaType}
    assert len(derived) == 4


def test_layout_is_cbc_then_truncated_hmac_over_iv_and_ciphertext() -> None:
    import hmac

    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes(range(32))
    out = io.BytesIO()
    encrypt_media(io.BytesIO(b"hello media"), out, MediaType.IMAGE, media_key=key)
    keys = MediaKeys.expand(key, MediaType.IMAGE)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
    ciphertext = (
        encryptor.update(padder.update(b"hello media") + padder.finalize()) + encryptor.finalize()
    )
    mac = hmac.digest(keys.mac_key, keys.iv + ciphertext, "sha256")[:10]
    assert out.getvalue() == ciphertext + mac


@pytest.mark.parametrize("position", [0, 100, -11, -1])
def test_tampering_is_rejected(position: int) -> None:
    data = os.urandom(1000)
    encrypted, info = encrypt_media_bytes(data, MediaType.DOCUMENT)
    tampered = bytearray(encrypted)
    tampered[position] ^= 0x01
    out = io.BytesIO()
    with pytest.raises(MediaIntegrityError):
        decrypt_media(
            io.BytesIO(bytes(tampered)), out, media_key=info.media_key, media_type=info.media_type
        )
    assert out.getvalue() == b""  # seekable input: nothing unauthenticated was written


def test_wrong_key_type_or_hash_is_rejected() -> None:
    encrypted, info = encrypt_media_bytes(b"x" * 100, MediaType.AUDIO)
    for kwargs in (
        {"media_key": os.urandom(32), "media_type": MediaType.AUDIO},
        {"media_key": info.media_key, "media_type": MediaType.VIDEO},
        {"media_key": info.media_key, "media_type": MediaType.AUDIO, "file_enc_sha256": bytes(32)},
        {"media_key": info.media_key, "media_type": MediaType.AUDIO, "file_sha256": bytes(32)},
    ):
        with pytest.raises(MediaIntegrityError):
            decrypt_media(io.BytesIO(encrypted), io.BytesIO(), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(MediaIntegrityError):
        decrypt_media_bytes(encrypted[:5], info)


class _Pattern(io.RawIOBase):
    """A readable, non-seekable stream of ``size`` deterministic bytes, never held in memory."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = bytes(range(256)) * 256

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.remaining, len(self.block))
        buffer[:n] = self.block[:n]
        self.remaining -= n
        return n


class _HashSink(io.RawIOBase):
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def test_streams_16_mb_in_constant_memory(tmp_path: object) -> None:
    size = 16 * 1024 * 1024 + 123
    encrypted_path = os.path.join(str(tmp_path), "blob.enc")
    tracemalloc.start()
    with open(encrypted_path, "wb") as out:
        info = encrypt_media(_Pattern(size), out, MediaType.VIDEO)  # type: ignore[arg-type]
    sink = _HashSink()
    with open(encrypted_path, "rb") as src:
        written = decrypt_media(
            src,
            sink,  # type: ignore[arg-type]
            media_key=info.media_key,
            media_type=MediaType.VIDEO,
            file_enc_sha256=info.file_enc_sha256,
            file_sha256=info.file_sha256,
        )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert written == size == info.file_length
    assert sink.hash.digest() == info.file_sha256
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: not streaming"


def test_non_seekable_source_still_authenticates() -> None:
    encrypted, info = encrypt_media_bytes(os.urandom(5000), MediaType.IMAGE)

    class OneWay(io.BytesIO):
        def seekable(self) -> bool:
            return False

    out = io.BytesIO()
    decrypt_media(OneWay(encrypted), out, media_key=info.media_key, media_type=MediaType.IMAGE)
    tampered = bytearray(encrypted)
    tampered[10] ^= 1
    stream: BinaryIO = OneWay(bytes(tampered))
    with pytest.raises(MediaIntegrityError):
        decrypt_media(stream, io.BytesIO(), media_key=info.media_key, media_type=MediaType.IMAGE)
