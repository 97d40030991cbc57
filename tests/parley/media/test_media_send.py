"""Media messages on POST /{version}/{phone_number_id}/messages: by an uploaded id or by a
link Parley fetches (from a real local HTTP server), encrypted with a fresh media key
before it is stored (only ciphertext), the key in the message's pointer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer
from werkzeug import Response as WerkzeugResponse

from e2ee.attachments import StorageAttachmentStore
from e2ee.client.relay import unb64
from e2ee.protocol.media import EncryptedMedia, MediaType, decrypt_media_bytes
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.messaging.content import parse_content
from parley.messaging.endpoint import outgoing
from parley.messaging.models import Message
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope
from tests.parley.media.conftest import PNG, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_storage")]

CUSTOMER = "+919820012345"
PDF = b"%PDF-1.7\n" + b"invoice 42 " * 500


def send(client: Client, secret: str, number: PhoneNumber, kind: str, obj: Any) -> Any:
    body = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": kind, kind: obj}
    return api(client, secret, "post", f"/v23.0/{number.pk}/messages", body)


def decrypted(pointer: dict[str, Any]) -> bytes:
    """What the customer's handset gets: the stored ciphertext, decrypted with the key."""
    info = EncryptedMedia(
        media_key=unb64(pointer["media_key"]),
        media_type=MediaType[pointer["media_type"]],
        file_sha256=unb64(pointer["file_sha256"]),
        file_enc_sha256=unb64(pointer["file_enc_sha256"]),
        file_length=int(pointer["file_length"]),
        enc_length=int(pointer["enc_length"]),
    )
    return decrypt_media_bytes(StorageAttachmentStore().get(pointer["id"]), info)


def only_ciphertext(root: Path, plaintext: bytes) -> None:
    for path in (root / "e2ee-attachments").iterdir():
        assert plaintext[:64] not in path.read_bytes()


@pytest.fixture
def private_links(settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "MEDIA_LINK_ALLOW_PRIVATE": True}


def test_an_image_by_id(
    client: Client, secret: str, number: PhoneNumber, local_storage: Path
) -> None:
    media_id = upload(client, secret, number).json()["id"]
    response = send(client, secret, number, "image", {"id": media_id, "caption": "Your parcel"})
    assert response.status_code == 200, response.content
    message = Message.objects.get(wamid=response.json()["messages"][0]["id"])
    content = message.content
    assert (content["type"], content["kind"], content["mime_type"]) == ("media", "image",
                                                                         "image/png")  # fmt: skip
    assert (content["caption"], content["file_name"], content["file_length"]) == (
        "Your parcel", "photo.png", len(PNG),
    )  # fmt: skip
    assert content["pointer"]["media_type"] == "IMAGE"
    assert decrypted(content["pointer"]) == PNG
    only_ciphertext(local_storage, PNG)
    # What the business endpoint hands the Signal client: the pointer and the caption.
    item = outgoing(CUSTOMER, parse_content(content))
    assert item.kind == "media" and item.content["attachment"]["id"] == content["pointer"]["id"]


def test_unknown_and_foreign_ids_are_refused(
    client: Client, secret: str, number: PhoneNumber, factory: Any
) -> None:
    other_number = PhoneNumber.objects.create(
        business=factory.business("Other"), e164="+14155550999", country="US",
        display_name="Other", status=PhoneNumber.Status.CONNECTED,
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED, created_at=number.created_at,
    )  # fmt: skip
    other = do_create_api_token(factory.staff(other_number.business, "developer"),
                                name="o").secret  # fmt: skip
    foreign = upload(client, other, other_number).json()["id"]
    for media_id in (foreign, "12345678901234567", "42"):
        error = assert_envelope(send(client, secret, number, "image", {"id": media_id}), 400, 100)
        assert (
            "not a valid whatsapp business account media attachment ID"
            in (error["error_data"]["details"])
        )
    assert not Message.objects.exists()


def test_a_document_by_link(
    client: Client, secret: str, number: PhoneNumber, httpserver: HTTPServer, private_links: None,
    local_storage: Path,
) -> None:  # fmt: skip
    httpserver.expect_request("/files/invoice-42.pdf").respond_with_data(
        PDF, content_type="application/pdf"
    )
    httpserver.expect_request("/moved").respond_with_response(
        WerkzeugResponse(status=302, headers={"Location": "/files/invoice-42.pdf"})
    )
    link = httpserver.url_for("/files/invoice-42.pdf")
    document = {"link": link, "filename": "March invoice.pdf", "caption": "Your invoice"}
    named = send(client, secret, number, "document", document)
    assert named.status_code == 200, named.content
    redirected = send(client, secret, number, "document", {"link": httpserver.url_for("/moved")})
    assert redirected.status_code == 200, redirected.content
    first, second = Message.objects.order_by("id")
    assert (first.content["file_name"], first.content["mime_type"], first.content["caption"]) == (
        "March invoice.pdf", "application/pdf", "Your invoice",
    )  # fmt: skip
    assert second.content["file_name"] == "invoice-42.pdf"  # the final URL's name
    assert first.content["pointer"]["media_type"] == "DOCUMENT"
    assert decrypted(first.content["pointer"]) == PDF == decrypted(second.content["pointer"])
    only_ciphertext(local_storage, PDF)


def test_links_parley_will_not_fetch(
    client: Client, secret: str, number: PhoneNumber, httpserver: HTTPServer, settings: Any
) -> None:
    httpserver.expect_request("/a.pdf").respond_with_data(PDF, content_type="application/pdf")
    # By default only public addresses: a link to this machine is refused.
    error = assert_envelope(
        send(client, secret, number, "document", {"link": httpserver.url_for("/a.pdf")}),
        400, 131053,
    )  # fmt: skip
    assert error["message"] == "(#131053) Media upload error"
    assert "not a public address" in error["error_data"]["details"]

    settings.PARLEY = {**settings.PARLEY, "MEDIA_LINK_ALLOW_PRIVATE": True}
    httpserver.expect_request("/gone.pdf").respond_with_data("no", status=404)
    httpserver.expect_request("/a.gif").respond_with_data(b"GIF89a", content_type="image/gif")
    httpserver.expect_request("/big.jpg").respond_with_data(
        b"x" * (5 * 1024 * 1024 + 1), content_type="image/jpeg"
    )
    httpserver.expect_request("/loop").respond_with_response(
        WerkzeugResponse(status=302, headers={"Location": "/loop"})
    )
    for kind, path, words in [
        ("document", "/gone.pdf", "HTTP 404"),
        ("image", "/a.gif", "image/gif"),
        ("image", "/big.jpg", "5242880 bytes"),
        ("image", "/loop", "redirects more than 3 times"),
        ("document", "/a.pdf", "not a public address"),
    ]:
        link = httpserver.url_for(path)
        if path == "/a.pdf":  # the policy back to its default
            settings.PARLEY = {**settings.PARLEY, "MEDIA_LINK_ALLOW_PRIVATE": False}
        error = assert_envelope(send(client, secret, number, kind, {"link": link}), 400, 131053)
        assert words in error["error_data"]["details"], (path, error)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("kind", "obj", "code", "words"),
    [
        ("image", {}, 131008, "either 'id' or 'link'"),
        ("image", {"id": "12345678901234567", "link": "https://example.com/a.png"}, 131008,
         "not both"),
        ("image", {"link": "ftp://example.com/a.png"}, 131009, "http or https"),
        ("audio", {"id": "12345678901234567", "caption": "hi"}, 131009, "caption"),
        ("sticker", {"id": "12345678901234567", "caption": "hi"}, 131009, "caption"),
        ("image", {"id": "12345678901234567", "filename": "a.png"}, 131009, "only for documents"),
        ("video", {"id": "12345678901234567", "colour": "red"}, 100, 'Unexpected key "colour"'),
        ("document", "https://example.com/a.pdf", 100, "JSON object"),
    ],
)  # fmt: skip
def test_malformed_media_objects(
    client: Client, secret: str, number: PhoneNumber, kind: str, obj: Any, code: int, words: str
) -> None:
    error = assert_envelope(send(client, secret, number, kind, obj), 400, code)
    assert words in error["message"] or words in error.get("error_data", {}).get("details", "")
    assert not Message.objects.exists()
