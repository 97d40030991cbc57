"""Fixtures of the media tests: a developer's token on a registered number, and an upload
helper speaking the Cloud API's multipart form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
def local_storage(settings: Any, tmp_path: Path) -> Path:
    """Django's default storage in a directory of this test's own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def secret(number: PhoneNumber, factory: Any) -> str:
    return do_create_api_token(factory.staff(number.business, "developer"), name="app").secret


def upload(
    client: Client,
    secret: str,
    number: PhoneNumber,
    data: bytes = PNG,
    mime: str | None = "image/png",
    name: str = "photo.png",
    **fields: Any,
) -> Any:
    form: dict[str, Any] = {"messaging_product": "whatsapp"}
    if data is not None:
        form["file"] = SimpleUploadedFile(name, data, content_type=mime or "")
    if mime is not None:
        form["type"] = mime
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(
        f"/v23.0/{number.pk}/media", data=form, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def call(client: Client, secret: str, method: str, path: str, **extra: Any) -> Any:
    return getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {secret}", **extra)
