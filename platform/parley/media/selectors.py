"""Reading media: always within one business (another business's media is as absent as an
unknown id), never past its expiry on the simulation clock."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from parley.accounts.models import Business
from parley.core import clock
from parley.core.errors import NotFound
from parley.media.models import MediaObject
from parley.messaging.models import Message


def retention() -> dt.timedelta:
    """How long media lives (uploaded, or sent by a customer), on the simulation clock."""
    return dt.timedelta(days=float(settings.PARLEY.get("MEDIA_RETENTION_DAYS", 30)))


@dataclasses.dataclass(frozen=True)
class CustomerMedia:
    """Media a customer sent (an image, a document, …): read by its Graph id like uploaded
    media, its bytes the message's encrypted attachment, decrypted when read."""

    graph_id: int
    message_id: int
    mime_type: str
    file_size: int
    sha256: str  # hex, as uploaded media's
    file_name: str
    content: dict[str, Any]


def _hex(b64: str) -> str:
    try:
        return base64.b64decode(b64, validate=True).hex()
    except (binascii.Error, ValueError):
        return ""


def _customer_media(business: Business, graph_id: int,
                    phone_number_id: str | int | None) -> CustomerMedia | None:  # fmt: skip
    qs = Message.objects.filter(
        business=business,
        media_id=graph_id,
        direction=Message.Direction.INBOUND,
        received_at__gt=clock.now() - retention(),
    )
    if phone_number_id is not None:
        qs = qs.filter(conversation__number_id=int(phone_number_id))
    message = qs.first()
    content = message.content if message is not None else None
    if not isinstance(content, dict) or not isinstance(content.get("pointer"), dict):
        return None
    assert message is not None
    pointer = content["pointer"]
    return CustomerMedia(
        graph_id=graph_id,
        message_id=message.pk,
        mime_type=str(content.get("mime_type") or "application/octet-stream"),
        file_size=int(content.get("file_length") or pointer.get("file_length") or 0),
        sha256=_hex(str(pointer.get("file_sha256") or "")),
        file_name=str(content.get("file_name") or ""),
        content=content,
    )


_ID = re.compile(r"[0-9]{17}", re.ASCII)


def looks_like_media_id(raw: str) -> bool:
    """Media ids have 17 digits (businesses and numbers 15, templates 16)."""
    return bool(_ID.fullmatch(raw))


def find_media(
    business: Business, media_id: str | int, *, phone_number_id: str | int | None = None
) -> MediaObject | CustomerMedia | None:
    """The business's live media with this Graph id: media it uploaded (by that number,
    when one is named) or media one of its customers sent (to that number); or None."""
    raw = str(media_id)
    if not looks_like_media_id(raw):
        return None
    qs = MediaObject.objects.filter(
        business=business, graph_id=int(raw), expires_at__gt=clock.now()
    )
    if phone_number_id is not None:
        qs = qs.filter(phone_number_id=int(phone_number_id))
    return qs.first() or _customer_media(business, int(raw), phone_number_id)


def get_media(
    business: Business, media_id: str | int, *, phone_number_id: str | int | None = None
) -> MediaObject | CustomerMedia:
    media = find_media(business, media_id, phone_number_id=phone_number_id)
    if media is None:
        raise NotFound(
            f"Unsupported request - object '{str(media_id)[:40]}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation."
        )
    return media


def read_media(media: MediaObject | CustomerMedia) -> bytes:
    if isinstance(media, CustomerMedia):
        return read_message_attachment(media.content)
    with default_storage.open(media.storage_name, "rb") as stored:
        return bytes(stored.read())


def iter_media(media: MediaObject | CustomerMedia, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time (for streaming a download)."""
    if isinstance(media, CustomerMedia):
        data = read_message_attachment(media.content)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]
        return
    with default_storage.open(media.storage_name, "rb") as stored:
        while chunk := stored.read(chunk_size):
            yield bytes(chunk)


def list_expired_media(limit: int) -> list[MediaObject]:
    return list(MediaObject.objects.filter(expires_at__lte=clock.now()).order_by("id")[:limit])


def media_file_of(content: dict[str, Any]) -> dict[str, Any] | None:
    """What a message's stored content says of its file (name, type, size), when it is a
    media message whose encrypted attachment the tenant holds; None otherwise."""
    pointer = content.get("pointer") if content.get("type") == "media" else None
    if not isinstance(pointer, dict) or not pointer.get("id"):
        return None
    return {
        "name": str(content.get("file_name") or pointer.get("file_name") or ""),
        "mime_type": str(content.get("mime_type") or "application/octet-stream"),
        "size": int(content.get("file_length") or pointer.get("file_length") or 0),
        "kind": str(content.get("kind") or ""),
    }


def read_message_attachment(content: dict[str, Any]) -> bytes:
    """The plaintext of a media message's attachment: its ciphertext from storage, decrypted
    with the key the tenant keeps in the message's pointer (digests and MAC checked)."""
    from e2ee.attachments import StorageAttachmentStore
    from e2ee.client.relay import unb64
    from e2ee.protocol.media import EncryptedMedia, MediaType, decrypt_media_bytes

    pointer = content["pointer"]
    info = EncryptedMedia(
        media_key=unb64(pointer["media_key"]),
        media_type=MediaType[pointer["media_type"]],
        file_sha256=unb64(pointer["file_sha256"]),
        file_enc_sha256=unb64(pointer["file_enc_sha256"]),
        file_length=int(pointer["file_length"]),
        enc_length=int(pointer["enc_length"]),
    )
    return decrypt_media_bytes(StorageAttachmentStore().get(str(pointer["id"])), info)
