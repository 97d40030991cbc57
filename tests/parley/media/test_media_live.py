"""Media on the live stack (uvicorn, a Celery worker running the business endpoint, a
customer's handset driven by the Signal client): the business uploads a file over HTTP,
sends it by id, and the customer's phone downloads the ciphertext and decrypts the bytes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from e2ee.actions import client_for, do_create_device
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.messaging.actions import do_enable_endpoint
from parley.messaging.models import Message
from tests.e2ee.conftest import new_handset_number
from tests.parley.messaging.test_end_to_end import eventually, register_endpoint, status_of

pytestmark = pytest.mark.django_db(transaction=True)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 64 + b"\xff\xd9"


def test_the_customer_s_phone_decrypts_the_uploaded_image(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any
) -> None:
    register_endpoint(number, factory, asgi_server)
    do_enable_endpoint(number)
    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    alice.send_text(number.e164, "can I see the damage?")
    eventually(lambda: Message.objects.filter(direction="inbound").exists(), "her message")
    token = do_create_api_token(factory.staff(number.business, "developer"), name="app").secret
    auth = {"Authorization": f"Bearer {token}"}

    uploaded = requests.post(
        f"{asgi_server}/v23.0/{number.pk}/media",
        files={"file": ("damage.jpg", JPEG, "image/jpeg")},
        data={"type": "image/jpeg", "messaging_product": "whatsapp"},
        headers=auth,
        timeout=30,
    )
    assert uploaded.status_code == 200, uploaded.text
    media_id = uploaded.json()["id"]
    node = requests.get(f"{asgi_server}/v23.0/{media_id}", headers=auth, timeout=30).json()
    download = requests.get(node["url"], headers=auth, timeout=30)
    assert (download.status_code, download.content) == (200, JPEG)

    sent = requests.post(
        f"{asgi_server}/v23.0/{number.pk}/messages",
        json={"messaging_product": "whatsapp", "to": alice.e164, "type": "image",
              "image": {"id": media_id, "caption": "The parcel, as it arrived"}},
        headers=auth,
        timeout=30,
    )  # fmt: skip
    assert sent.status_code == 200, sent.text
    message = Message.objects.get(wamid=sent.json()["messages"][0]["id"])
    eventually(lambda: status_of(message) == "sent", "sent")
    received = eventually(lambda: [r for r in alice.receive() if r.kind == "media"], "the image")
    (image,) = received
    assert image.body == "The parcel, as it arrived"
    assert (image.attachment["mime_type"], image.attachment["file_name"]) == (
        "image/jpeg", "damage.jpg",
    )  # fmt: skip
    assert alice.download(image.attachment) == JPEG
    eventually(lambda: status_of(message) == "delivered", "delivered")
