"""Graph ids that several apps hand out in one namespace."""

from __future__ import annotations

import secrets


def new_media_id() -> int:
    """A random 17-digit Graph id: businesses and phone numbers have 15 digits, templates
    16, so a media id never names one of them on the shared `/{version}/{id}` path. Uploaded
    media and the media customers send share the namespace."""
    return 10_000_000_000_000_000 + secrets.randbelow(90_000_000_000_000_000)
