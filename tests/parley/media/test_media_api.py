"""Media on the Cloud API: upload (multipart), read its URL, download the bytes with the
same token, delete; Meta's limits per type and its error envelope; 30 days on the
simulation clock."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core.due import run_due_jobs
from parley.media.models import MediaObject
from tests.parley.api.test_tokens_and_envelope import assert_envelope
from tests.parley.media.conftest import PNG, call, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_storage")]


def stored_files(root: Path) -> list[Path]:
    return (
        [p for p in (root / "media").rglob("*") if p.is_file()] if (root / "media").exists() else []
    )


def test_upload_read_download_delete(
    client: Client, secret: str, number: PhoneNumber, local_storage: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    response = upload(client, secret, number)
    assert response.status_code == 200, response.content
    media_id = response.json()["id"]
    assert response.json() == {"id": media_id}
    assert len(media_id) == 17 and media_id.isdigit()
    row = MediaObject.objects.get(graph_id=int(media_id))
    assert (row.kind, row.phone_number_id, row.file_name) == ("image", number.pk, "photo.png")
    assert stored_files(local_storage)[0].read_bytes() == PNG

    node = call(client, secret, "get", f"/v23.0/{media_id}")
    assert node.status_code == 200, node.content
    body = node.json()
    assert set(body) == {"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}
    assert body["messaging_product"] == "whatsapp"
    assert (body["id"], body["mime_type"]) == (media_id, "image/png")
    assert body["file_size"] == str(len(PNG))  # a string, as Meta's schema types it
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    # Meta's optional phone_number_id: the media must be that number's.
    own = call(client, secret, "get", f"/v23.0/{media_id}?phone_number_id={number.pk}")
    assert own.status_code == 200
    assert_envelope(call(client, secret, "get", f"/v23.0/{media_id}?phone_number_id=1"), 404, 100)

    url = urlsplit(body["url"])
    assert url.path == f"/parley/v1/media/{media_id}/download"
    download = call(client, secret, "get", f"{url.path}?{url.query}")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == PNG
    assert 'filename="photo.png"' in download["Content-Disposition"]
    # Without a token, nothing; a tampered signature, nothing.
    assert client.get(f"{url.path}?{url.query}").status_code == 401
    tampered = url.query.replace("hash=", "hash=x")
    assert_envelope(call(client, secret, "get", f"{url.path}?{tampered}"), 404, 100)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = call(client, secret, "delete", f"/v23.0/{media_id}")
    assert deleted.status_code == 200, deleted.content
    assert deleted.json() == {"success": True}
    assert not MediaObject.objects.exists()
    assert stored_files(local_storage) == []
    assert_envelope(call(client, secret, "get", f"/v23.0/{media_id}"), 404, 100)
    assert_envelope(call(client, secret, "delete", f"/v23.0/{media_id}"), 404, 100)
    assert_envelope(call(client, secret, "get", f"{url.path}?{url.query}"), 404, 100)


def test_another_tenant_sees_nothing(
    client: Client, secret: str, number: PhoneNumber, factory: Any
) -> None:
    media_id = upload(client, secret, number).json()["id"]
    url = urlsplit(call(client, secret, "get", f"/v23.0/{media_id}").json()["url"])
    other = do_create_api_token(factory.staff(factory.business("Other"), "developer"),
                                name="x").secret  # fmt: skip
    assert_envelope(call(client, other, "get", f"/v23.0/{media_id}"), 404, 100)
    assert_envelope(call(client, other, "delete", f"/v23.0/{media_id}"), 404, 100)
    assert_envelope(call(client, other, "get", f"{url.path}?{url.query}"), 404, 100)
    assert_envelope(upload(client, other, number), 404, 100)
    assert MediaObject.objects.count() == 1
    # Media is part of sending messages: a token without send_messages gets 403.
    reader = do_create_api_token(factory.staff(number.business, "developer"), name="r",
                                 scopes=["view_numbers"]).secret  # fmt: skip
    error = assert_envelope(upload(client, reader, number), 403, 10)
    assert "send_messages" in error["message"]
    assert_envelope(call(client, reader, "get", f"/v23.0/{media_id}"), 403, 10)


def test_other_nodes_still_answer_and_take_no_delete(
    client: Client, secret: str, number: PhoneNumber
) -> None:
    node = call(client, secret, "get", f"/v23.0/{number.pk}")
    assert node.status_code == 200 and node.json()["id"] == str(number.pk)
    business = call(client, secret, "get", f"/v23.0/{number.business_id}")
    assert business.status_code == 200
    # Only media ids take a DELETE; others answer 405 as before.
    assert_envelope(call(client, secret, "delete", f"/v23.0/{number.pk}"), 405, 100)
    assert_envelope(call(client, secret, "delete", f"/v23.0/{number.business_id}"), 405, 100)
    assert_envelope(call(client, secret, "get", "/v23.0/12345678901234567"), 404, 100)


ANIMATED_WEBP_HEAD = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02"
STATIC_WEBP_HEAD = b"RIFF\x00\x00\x00\x00WEBPVP8 \x0a\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("data", "mime", "ok", "words"),
    [
        (b"GIF89a" + b"x" * 100, "image/gif", False, "image/gif"),
        (b"x" * (5 * 1024 * 1024 + 1), "image/jpeg", False, "maximum for image/jpeg is 5 MB"),
        (b"x" * (5 * 1024 * 1024), "image/jpeg", True, ""),
        (b"", "text/plain", False, "empty"),
        (STATIC_WEBP_HEAD + b"x" * (100 * 1024), "image/webp", False, "static sticker"),
        (ANIMATED_WEBP_HEAD + b"x" * (200 * 1024), "image/webp", True, ""),
        (ANIMATED_WEBP_HEAD + b"x" * (500 * 1024), "image/webp", False, "500 KB"),
        (b"ID3" + b"x" * 1000, "audio/mpeg", True, ""),
        (b"%PDF-1.7 " + b"x" * 1000, "application/pdf", True, ""),
        (b"x" * (16 * 1024 * 1024 + 1), "video/mp4", False, "16 MB"),
    ],
)
def test_types_and_sizes_are_meta_s(
    client: Client, secret: str, number: PhoneNumber, data: bytes, mime: str, ok: bool, words: str
) -> None:
    response = upload(client, secret, number, data, mime, name="f")
    if ok:
        assert response.status_code == 200, response.content
        assert MediaObject.objects.get().mime_type == mime
        return
    error = assert_envelope(response, 400, 131053)
    assert error["message"] == "(#131053) Media upload error"
    assert words in error["error_data"]["details"]
    assert not MediaObject.objects.exists()


def test_the_form_is_checked(client: Client, secret: str, number: PhoneNumber) -> None:
    error = assert_envelope(upload(client, secret, number, None), 400, 100)  # type: ignore[arg-type]
    assert "file is required" in error["message"]
    no_product = upload(client, secret, number, messaging_product=None)
    assert "messaging_product" in assert_envelope(no_product, 400, 100)["message"]
    assert_envelope(upload(client, secret, number, messaging_product="sms"), 400, 100)
    # JSON is not an upload.
    json_body = call(client, secret, "post", f"/v23.0/{number.pk}/media", data="{}",
                     content_type="application/json")  # fmt: skip
    assert_envelope(json_body, 415, 100)
    # A body larger than the largest file a kind takes is refused before it is read.
    huge = call(client, secret, "post", f"/v23.0/{number.pk}/media", data=b"--x--",
                content_type="multipart/form-data; boundary=x",
                CONTENT_LENGTH=str(200 * 1024 * 1024))  # fmt: skip
    assert_envelope(huge, 413, 100)
    assert not MediaObject.objects.exists()


def test_media_expires_after_30_days_on_the_simulation_clock(
    client: Client, secret: str, number: PhoneNumber, frozen_clock: Any, local_storage: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    media_id = upload(client, secret, number).json()["id"]
    url = urlsplit(call(client, secret, "get", f"/v23.0/{media_id}").json()["url"])
    frozen_clock.advance(seconds=299)
    assert call(client, secret, "get", f"{url.path}?{url.query}").status_code == 200
    frozen_clock.advance(seconds=2)  # Meta's media URLs last 5 minutes
    assert_envelope(call(client, secret, "get", f"{url.path}?{url.query}"), 404, 100)

    frozen_clock.advance(days=29, hours=23, minutes=54)
    assert call(client, secret, "get", f"/v23.0/{media_id}").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        names = {r.name: r.ok for r in run_due_jobs()}
    assert names["parley.media.tasks.purge_expired_media"]
    assert MediaObject.objects.count() == 1  # not yet due

    frozen_clock.advance(minutes=1)
    assert_envelope(call(client, secret, "get", f"/v23.0/{media_id}"), 404, 100)
    assert len(stored_files(local_storage)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        run_due_jobs()
    assert not MediaObject.objects.exists()
    assert stored_files(local_storage) == []


def test_a_customers_media_is_read_and_downloaded_by_its_media_id(
    client: Client, secret: str, number: PhoneNumber, factory: Any, local_storage: Path,
    frozen_clock: Any,
) -> None:  # fmt: skip
    import dataclasses
    import json

    from parley.core.models import StreamEntry
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.endpoint import store_media
    from parley.webhooks.changes import build_changes
    from tests.parley.webhooks.test_changes import deliveries

    # What the business's endpoint records when a customer's photo arrives: the encrypted
    # attachment, its key in the tenant.
    photo = store_media(PNG, file_name="parcel.png", mime_type="image/png", kind="image",
                        caption="it arrived broken")  # fmt: skip
    start = StreamEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    message = do_record_inbound_message(number, "+919820012345", photo, envelope_guid="in-photo")
    media_id = message.content["media_id"]
    assert len(media_id) == 17 and media_id.isdigit() and message.media_id == int(media_id)
    # The webhook names it by that id, as Meta does.
    (change,) = [c for c in build_changes(deliveries(start)) if c.message_id == message.wamid]
    image = json.loads(change.body)["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    assert image["id"] == media_id and image["caption"] == "it arrived broken"

    node = call(client, secret, "get", f"/v23.0/{media_id}?phone_number_id={number.pk}")
    assert node.status_code == 200, node.content
    body = node.json()
    assert (body["id"], body["mime_type"], body["file_size"]) == (media_id, "image/png",
                                                                 str(len(PNG)))  # fmt: skip
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    url = urlsplit(body["url"])
    download = call(client, secret, "get", f"{url.path}?{url.query}")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == PNG  # decrypted with the tenant's key
    blobs = [f.read_bytes() for f in (local_storage / "e2ee-attachments").iterdir()]
    assert len(blobs) == 1 and PNG not in blobs[0]  # only the ciphertext is stored

    # Another business: nothing; another number of the business: nothing.
    other = do_create_api_token(factory.staff(factory.business("Other"), "developer"),
                                name="x").secret  # fmt: skip
    assert_envelope(call(client, other, "get", f"/v23.0/{media_id}"), 404, 100)
    assert_envelope(call(client, secret, "get", f"/v23.0/{media_id}?phone_number_id=1"), 404, 100)
    # Deleted, it names nothing; the message keeps its content.
    assert call(client, secret, "delete", f"/v23.0/{media_id}").json() == {"success": True}
    assert_envelope(call(client, secret, "get", f"/v23.0/{media_id}"), 404, 100)
    message.refresh_from_db()
    assert message.media_id is None and message.content["caption"] == "it arrived broken"
    # After 30 days (simulated) a customer's media is gone like uploaded media.
    later = do_record_inbound_message(
        number, "+919820012345", dataclasses.replace(photo, caption=""), envelope_guid="in-2"
    )
    frozen_clock.advance(days=30, seconds=1)
    assert_envelope(call(client, secret, "get", f"/v23.0/{later.content['media_id']}"), 404, 100)
