"""What the Cloud API accepts as media: the MIME types of each kind and their size limits,
as Meta documents them. Pure: no Django.

    audio     audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg          16 MB
    document  text/plain, application/pdf, Word, Excel, PowerPoint (old/new)  100 MB
    image     image/jpeg, image/png                                           5 MB
    sticker   image/webp: 100 KB static, 500 KB animated
    video     video/mp4, video/3gpp                                           16 MB
"""

from __future__ import annotations

import dataclasses

KB = 1024
MB = 1024 * 1024

KINDS = ("audio", "document", "image", "sticker", "video")
STICKER_STATIC_LIMIT = 100 * KB
STICKER_ANIMATED_LIMIT = 500 * KB

# MIME type -> (kind, byte limit). A sticker's limit depends on whether it is animated.
MIME_TYPES: dict[str, tuple[str, int]] = {
    "audio/aac": ("audio", 16 * MB),
    "audio/amr": ("audio", 16 * MB),
    "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB),
    "audio/ogg": ("audio", 16 * MB),
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "document", 100 * MB,
    ),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "document", 100 * MB,
    ),
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "image/webp": ("sticker", STICKER_ANIMATED_LIMIT),
    "video/mp4": ("video", 16 * MB),
    "video/3gpp": ("video", 16 * MB),
}  # fmt: skip
# The largest file any kind takes: what an upload's body may hold (plus the form's overhead).
MAX_FILE_BYTES = max(limit for _, limit in MIME_TYPES.values())
EXTENSIONS = {
    "audio/aac": "aac", "audio/amr": "amr", "audio/mpeg": "mp3", "audio/mp4": "m4a",
    "audio/ogg": "ogg", "text/plain": "txt", "application/pdf": "pdf",
    "application/msword": "doc", "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt", "image/jpeg": "jpg", "image/png": "png",
    "image/webp": "webp", "video/mp4": "mp4", "video/3gpp": "3gp",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class MediaRef:
    """A media message's object: `kind` and either an uploaded `media_id` or a `link`."""

    kind: str
    media_id: str = ""
    link: str = ""
    caption: str = ""
    filename: str = ""


class MediaRuleBroken(ValueError):
    """The file is not one the Cloud API takes; the message says why."""


@dataclasses.dataclass(frozen=True)
class Accepted:
    kind: str
    mime_type: str
    limit: int


def normalise_mime(raw: str) -> str:
    """`image/JPEG; charset=x` -> `image/jpeg`."""
    return raw.split(";", 1)[0].strip().lower()


def mime_types_of(kind: str) -> list[str]:
    return [mime for mime, (k, _) in MIME_TYPES.items() if k == kind]


def kind_limit(kind: str) -> int:
    return max(limit for mime, (k, limit) in MIME_TYPES.items() if k == kind)


def is_animated_webp(head: bytes) -> bool:
    """An extended WebP (`VP8X`) with its animation flag set, or one with an `ANIM` chunk."""
    if len(head) < 21 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return False
    if head[12:16] == b"VP8X":
        return bool(head[20] & 0x02)
    return b"ANIM" in head[:4096]


def human_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:g} MB"
    if size >= KB:
        return f"{size / KB:g} KB"
    return f"{size} bytes"


def check_file(mime_type: str, size: int, head: bytes, *, kind: str | None = None) -> Accepted:
    """Whether a file of `mime_type` and `size` bytes (starting with `head`) may be uploaded
    or sent (as `kind`, when the message names one). Raises MediaRuleBroken."""
    mime = normalise_mime(mime_type)
    entry = MIME_TYPES.get(mime)
    if entry is None:
        raise MediaRuleBroken(
            f"Param file must be a file with one of the following types: "
            f"{', '.join(MIME_TYPES)}. Received file of type '{mime[:100]}'."
        )
    found, limit = entry
    if kind is not None and kind != found:
        raise MediaRuleBroken(
            f"Media of type {kind} must be one of {', '.join(mime_types_of(kind))}; "
            f"received '{mime}'."
        )
    if found == "sticker" and not is_animated_webp(head):
        limit = STICKER_STATIC_LIMIT
    if size <= 0:
        raise MediaRuleBroken("The file is empty.")
    if size > limit:
        what = "static sticker" if limit == STICKER_STATIC_LIMIT else f"{mime} file"
        raise MediaRuleBroken(
            f"The {what} is {human_size(size)}: the maximum for {mime} is {human_size(limit)}."
        )
    return Accepted(found, mime, limit)
