"""Writing media: upload (the file into Django's storage, its row here), delete, the 30-day
purge, and turning a message's media (an uploaded id or a link) into the encrypted
attachment a media message carries."""

from __future__ import annotations

import hashlib
from typing import IO

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from parley.accounts.models import Business, PhoneNumber
from parley.core import clock
from parley.core.errors import MessagingError
from parley.media import rules
from parley.media.links import LinkFetchFailed, fetch
from parley.media.models import MediaObject
from parley.media.rules import MediaRef
from parley.media.selectors import (
    CustomerMedia,
    find_media,
    list_expired_media,
    read_media,
    retention,
)
from parley.messaging.actions import do_forget_customer_media
from parley.messaging.content import Media

PREFIX = "media/"
_HEAD = 4096
_ATTEMPTS = 3


def media_upload_error(details: str) -> MessagingError:
    return MessagingError(131053, "Media upload error", details)


def _digest(stream: IO[bytes]) -> tuple[str, int, bytes]:
    """sha256 (hex), size and the first bytes of a file, read once."""
    stream.seek(0)
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := stream.read(64 * 1024):
        if len(head) < _HEAD:
            head += chunk[: _HEAD - len(head)]
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    return digest.hexdigest(), size, head


def _clean_name(raw: str) -> str:
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable() and ch != '"')[:240]


def do_upload_media(
    number: PhoneNumber, upload: IO[bytes] | bytes, *, mime_type: str, file_name: str = ""
) -> MediaObject:
    """Store a file a business uploads through one of its numbers. Raises MessagingError
    131053 when the file's type or size is not one the Cloud API takes."""
    stream: IO[bytes] = ContentFile(upload) if isinstance(upload, bytes) else upload
    sha256, size, head = _digest(stream)
    try:
        accepted = rules.check_file(mime_type, size, head)
    except rules.MediaRuleBroken as exc:
        raise media_upload_error(str(exc)) from exc
    now = clock.now()
    for attempt in range(_ATTEMPTS):
        media = MediaObject(
            business_id=number.business_id,
            phone_number=number,
            kind=accepted.kind,
            mime_type=accepted.mime_type,
            file_size=size,
            sha256=sha256,
            file_name=_clean_name(file_name),
            created_at=now,
            expires_at=now + retention(),
        )
        name = default_storage.save(
            f"{PREFIX}{number.business_id}/{media.graph_id}", File(stream, name="upload")
        )
        media.storage_name = name
        try:
            with transaction.atomic():
                media.save()
        except IntegrityError:
            default_storage.delete(name)
            if attempt == _ATTEMPTS - 1:
                raise
            stream.seek(0)
            continue
        return media
    raise AssertionError("unreachable")


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def do_delete_media(business: Business, media_id: str | int) -> bool:
    """Delete the business's media object and its file; False when there is none."""
    with transaction.atomic():
        media = find_media(business, media_id)
        if media is None:
            return False
        if isinstance(media, CustomerMedia):
            return do_forget_customer_media(media.message_id)
        deleted, _ = MediaObject.objects.filter(pk=media.pk).delete()
        name = media.storage_name
        transaction.on_commit(lambda: _delete_files([name]))
    return bool(deleted)


def do_purge_expired_media(batch: int = 500) -> int:
    """Delete media past its 30 days (simulation clock), rows and files; returns how many."""
    purged = 0
    while True:
        expired = list_expired_media(batch)
        if not expired:
            return purged
        with transaction.atomic():
            MediaObject.objects.filter(pk__in=[m.pk for m in expired]).delete()
            names = [m.storage_name for m in expired]
            transaction.on_commit(lambda names=names: _delete_files(names))  # type: ignore[misc]
        purged += len(expired)


# -- media messages ------------------------------------------------------------------------


def do_prepare_media(business: Business, ref: MediaRef) -> Media:
    """The content of a media message: the file (the business's uploaded media, or what the
    link answers) encrypted with a fresh media key, only the ciphertext stored."""
    from parley.messaging.endpoint import store_media

    where = f"{ref.kind}['{'id' if ref.media_id else 'link'}']"
    if ref.media_id:
        media = find_media(business, ref.media_id)
        if media is None:
            raise MessagingError(
                100,
                "Invalid parameter",
                f"Param {where} is not a valid whatsapp business account media attachment ID",
            )
        data, mime_type, file_name = read_media(media), media.mime_type, media.file_name
    else:
        try:
            fetched = fetch(ref.link, max_bytes=rules.kind_limit(ref.kind))
        except LinkFetchFailed as exc:
            raise media_upload_error(f"Param {where}: {exc}") from exc
        data, mime_type, file_name = fetched.data, fetched.mime_type, fetched.file_name
    try:
        accepted = rules.check_file(mime_type, len(data), data[:_HEAD], kind=ref.kind)
    except rules.MediaRuleBroken as exc:
        raise media_upload_error(f"Param {where}: {exc}") from exc
    name = ref.filename or file_name
    if not name:
        name = f"{ref.kind}.{rules.EXTENSIONS.get(accepted.mime_type, 'bin')}"
    return store_media(
        data,
        file_name=_clean_name(name),
        mime_type=accepted.mime_type,
        kind=ref.kind,
        caption=ref.caption,
    )
