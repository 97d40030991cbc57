"""A number's WhatsApp business profile: validate and store what Meta's
`POST /{phone_number_id}/whatsapp_business_profile` takes (about, address, description,
email, vertical, websites, profile_picture_handle), audited.

The profile picture's handle is the id of an image (JPEG or PNG) the business uploaded with
`POST /{phone_number_id}/media`: Parley has no Resumable Upload API. Its bytes are copied into
Django's storage, so the picture outlives the media object's 30 days."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import Business, BusinessProfile
from parley.accounts.selectors import get_number
from parley.core import clock
from parley.core.errors import InvalidParameter

TEXT_LIMITS: dict[str, int] = {"about": 139, "address": 256, "description": 512, "email": 128}
MAX_WEBSITES = 2
MAX_WEBSITE_CHARS = 256
PICTURE_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
PICTURE_PREFIX = "profile-pictures/"
PROFILE_FIELDS = (
    "about",
    "address",
    "description",
    "email",
    "vertical",
    "websites",
    "profile_picture_handle",
)
_URL = URLValidator(schemes=["http", "https"])


def _bad(field: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"(#100) Invalid parameter: {field} {message}", field=field)


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(field, "must be a string.")
    text = value.strip()
    if "\x00" in text:
        raise _bad(field, "must not contain NUL.")
    if len(text) > TEXT_LIMITS[field]:
        raise _bad(field, f"must have at most {TEXT_LIMITS[field]} characters.")
    return text


def _email(value: Any) -> str:
    text = _text("email", value)
    if text:
        try:
            validate_email(text)
        except ValidationError as exc:
            raise _bad("email", "must be a valid email address.") from exc
    return text


def _vertical(value: Any) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or value not in BusinessProfile.Vertical.values:
        raise _bad("vertical", f"must be one of {', '.join(BusinessProfile.Vertical.values)}.")
    return value


def _websites(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _bad("websites", "must be a list of URLs.")
    urls = [v.strip() for v in value if v.strip()]
    if len(urls) > MAX_WEBSITES:
        raise _bad("websites", f"takes at most {MAX_WEBSITES} URLs.")
    for url in urls:
        if len(url) > MAX_WEBSITE_CHARS:
            raise _bad("websites", f"URLs must have at most {MAX_WEBSITE_CHARS} characters.")
        try:
            _URL(url)
        except ValidationError as exc:
            raise _bad(
                "websites", f"'{url[:60]}' is not a URL starting with http:// or https://."
            ) from exc
    return urls


@dataclasses.dataclass(frozen=True)
class _Picture:
    handle: str
    content: bytes
    mime_type: str
    sha256: str


def _picture(business: Business, value: Any) -> _Picture | None:
    """The uploaded image a handle names; None for "" (remove the picture)."""
    from parley.media.selectors import find_media, read_media

    if not isinstance(value, str):
        raise _bad("profile_picture_handle", "must be a string.")
    handle = value.strip()
    if not handle:
        return None
    media = find_media(business, handle)
    if media is None:
        raise _bad(
            "profile_picture_handle",
            "is not the id of a live media upload of this business: upload a JPEG or PNG "
            "with POST /{phone_number_id}/media and pass its id.",
        )
    if media.mime_type not in PICTURE_TYPES:
        raise _bad("profile_picture_handle", "must name a JPEG or PNG image.")
    return _Picture(handle, read_media(media), media.mime_type, media.sha256)


def clean_profile(business: Business, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated values of the fields `changes` sets; unknown keys are refused."""
    unknown = sorted(set(changes) - set(PROFILE_FIELDS))
    if unknown:
        raise _bad(unknown[0], "is not a business profile field.")
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "email":
            cleaned[field] = _email(value)
        elif field == "vertical":
            cleaned[field] = _vertical(value)
        elif field == "websites":
            cleaned[field] = _websites(value)
        elif field == "profile_picture_handle":
            cleaned[field] = _picture(business, value)
        else:
            cleaned[field] = _text(field, value)
    return cleaned


def do_update_business_profile(
    business: Business,
    number_id: int | str,
    changes: Mapping[str, Any],
    *,
    actor_label: str = "api",
    ip_address: str | None = None,
) -> BusinessProfile:
    """Set the fields in `changes` (others keep their values). Text "" clears a field, as
    does `[]` for websites and "" for the picture. Audited as `number.profile_updated` with
    the names of the fields that changed."""
    cleaned = clean_profile(business, changes)
    stale: list[str] = []
    written: list[str] = []
    with transaction.atomic():
        number = get_number(business, number_id)
        profile, _ = BusinessProfile.objects.select_for_update().get_or_create(number=number)
        changed: list[str] = []
        for field, value in cleaned.items():
            if field == "profile_picture_handle":
                continue
            if getattr(profile, field) != value:
                setattr(profile, field, value)
                changed.append(field)
        if "profile_picture_handle" in cleaned:
            picture: _Picture | None = cleaned["profile_picture_handle"]
            if picture is None and profile.profile_picture_name:
                stale.append(profile.profile_picture_name)
                profile.profile_picture_handle = profile.profile_picture_name = ""
                profile.profile_picture_mime_type = profile.profile_picture_sha256 = ""
                changed.append("profile_picture")
            elif picture is not None and picture.sha256 != profile.profile_picture_sha256:
                name = default_storage.save(
                    f"{PICTURE_PREFIX}{number.pk}/{picture.sha256[:16]}."
                    f"{PICTURE_TYPES[picture.mime_type]}",
                    ContentFile(picture.content),
                )
                written.append(name)
                if profile.profile_picture_name:
                    stale.append(profile.profile_picture_name)
                profile.profile_picture_handle = picture.handle
                profile.profile_picture_name = name
                profile.profile_picture_mime_type = picture.mime_type
                profile.profile_picture_sha256 = picture.sha256
                changed.append("profile_picture")
        if changed:
            profile.updated_at = clock.now()
            try:
                profile.save()
                do_record_audit(
                    "number.profile_updated",
                    business_id=business.pk,
                    actor_label=actor_label,
                    target=number.e164,
                    ip_address=ip_address,
                    details={"fields": changed},
                )
            except BaseException:
                for name in written:
                    default_storage.delete(name)
                raise
            transaction.on_commit(lambda: _delete_files(stale))
    return profile


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
