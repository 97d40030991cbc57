"""Where encrypted attachment blobs go (the "CDN"): only ciphertext is ever put here."""

from __future__ import annotations

import secrets
from typing import Protocol


class AttachmentStore(Protocol):
    def put(self, ciphertext: bytes) -> str:
        """Store an encrypted blob; returns its opaque id."""
        ...

    def get(self, attachment_id: str) -> bytes: ...


class InMemoryAttachmentStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, ciphertext: bytes) -> str:
        attachment_id = secrets.token_hex(16)
        self.blobs[attachment_id] = ciphertext
        return attachment_id

    def get(self, attachment_id: str) -> bytes:
        return self.blobs[attachment_id]
