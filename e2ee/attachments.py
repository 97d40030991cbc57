"""Encrypted attachment blobs in Django's default storage (`var/storage/e2ee-attachments/`
on one machine, an S3-compatible bucket when scaled out). Blobs are media-encrypted
(AES-256-CBC + HMAC, `e2ee.protocol.media`) before they get here; the key travels only
inside the Signal message."""

from __future__ import annotations

import re
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

PREFIX = "e2ee-attachments/"
_ID = re.compile(r"^[0-9a-f]{32}$")


class StorageAttachmentStore:
    def put(self, ciphertext: bytes) -> str:
        attachment_id = secrets.token_hex(16)
        default_storage.save(PREFIX + attachment_id, ContentFile(ciphertext))
        return attachment_id

    def get(self, attachment_id: str) -> bytes:
        if not _ID.match(attachment_id):
            raise KeyError(attachment_id)
        with default_storage.open(PREFIX + attachment_id, "rb") as blob:
            return bytes(blob.read())
