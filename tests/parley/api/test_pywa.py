"""A real third-party Cloud API client from PyPI, pywa, unmodified: only its base URL points
at Parley (its httpx session's requests to graph.facebook.com go to the test server). It
manages templates, sends each message type and marks a message read; the customer's
handset, driven by the Signal client, reads what arrived."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import WhatsAppError
from pywa.types import Button, Contact, Section, SectionList, SectionRow, URLButton
from pywa.types.templates import (
    BodyText,
    FooterText,
    Template,
    TemplateCategory,
    TemplateLanguage,
    TemplateStatus,
)

from e2ee.actions import client_for, do_create_device
from e2ee.protocol.media import MediaType
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.message_templates.actions import do_review_template
from parley.messaging.actions import do_enable_endpoint
from parley.messaging.models import Message
from tests.e2ee.conftest import new_handset_number
from tests.parley.messaging.test_end_to_end import eventually, register_endpoint, status_of

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


class ToParley(httpx.BaseTransport):
    """Sends what the client addresses to graph.facebook.com to Parley instead."""

    def __init__(self, base: str) -> None:
        self.base = httpx.URL(base)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(
            scheme=self.base.scheme, host=self.base.host, port=self.base.port
        )
        request.headers["Host"] = f"{self.base.host}:{self.base.port}"
        return self.inner.handle_request(request)


def pywa_client(base: str, number: PhoneNumber, token: str) -> WhatsApp:
    return WhatsApp(
        phone_id=str(number.pk),
        token=token,
        waba_id=str(number.business_id),
        session=httpx.Client(transport=ToParley(base), timeout=30),
    )


def test_pywa_manages_templates_sends_every_type_and_reads(
    asgi_server: str, celery_worker: None, number: PhoneNumber, factory: Any, tmp_path: Path
) -> None:
    register_endpoint(number, factory, asgi_server)
    do_enable_endpoint(number)
    alice = client_for(do_create_device(new_handset_number()), asgi_server)
    alice.register()
    token = do_create_api_token(factory.staff(number.business, "developer"), name="pywa").secret
    wa = pywa_client(asgi_server, number, token)

    # Templates: create, list, edit, approve (the simulated review), send, delete.
    body = BodyText("Hi {{1}}, your parcel arrives {{2}}.", "Ana", "today")
    created = wa.create_template(
        Template(
            name="delivery_note",
            language=TemplateLanguage.ENGLISH_US,
            category=TemplateCategory.UTILITY,
            components=[body, FooterText(text="Courier Co")],
        )
    )
    assert created.status == TemplateStatus.PENDING
    listed = wa.get_templates(statuses=[TemplateStatus.PENDING])
    assert [t.name for t in listed] == ["delivery_note"]
    do_review_template(number.business, created.id, decision="APPROVED")

    # She writes first: the service window opens.
    (her_guid,) = alice.send_text(number.e164, "is my parcel on its way?")
    question = eventually(
        lambda: Message.objects.filter(direction="inbound", conversation__number=number).first(),
        "her question",
    )
    to = alice.e164.lstrip("+")
    sent = [
        wa.send_message(to=to, text="Yes! See https://example.com/t/1", preview_url=True,
                        reply_to_message_id=question.wamid),
        wa.send_message(to=to, text="Deliver today?", header="Delivery", footer="Reply below",
                        buttons=[Button(title="Yes", callback_data="yes"),
                                 Button(title="No", callback_data="no")]),
        wa.send_message(to=to, text="Pick a slot", buttons=SectionList(
            button_title="Slots", sections=[Section(title="Today", rows=[
                SectionRow(title="Morning", callback_data="am"),
                SectionRow(title="Afternoon", callback_data="pm")])])),
        wa.send_message(to=to, text="Track it", buttons=URLButton(
            title="Track", url="https://example.com/t/1")),
        wa.send_location(to=to, latitude=37.4847, longitude=-122.1486, name="Depot"),
        wa.send_contact(to=to, contact=Contact(
            name=Contact.Name(formatted_name="Courier Desk", first_name="Courier"),
            phones=[Contact.Phone(phone="+14155550100", type="WORK")])),
        wa.send_reaction(to=to, emoji="👍", message_id=question.wamid),
        wa.send_template(to=to, name="delivery_note", language=TemplateLanguage.ENGLISH_US,
                         params=[body.params("Ana", "today")]),  # type: ignore[arg-type]
    ]  # fmt: skip
    assert all(s.id.startswith("wamid.") for s in sent)
    messages = [Message.objects.get(wamid=s.id) for s in sent]
    assert [m.content_type for m in messages] == [
        "text", "interactive", "interactive", "interactive", "location", "contacts",
        "reaction", "template",
    ]  # fmt: skip
    assert messages[0].reply_to == question.wamid
    for message in messages:
        eventually(lambda: status_of(message) != "accepted", f"{message.content_type} sent")  # noqa: B023
        assert (message.status, message.error_code, message.error_title) == ("sent", None, "")
    shown = [r.body for r in alice.receive() if r.kind not in ("receipt", "duplicate")]
    assert shown[0] == "Yes! See https://example.com/t/1"
    assert "Hi Ana, your parcel arrives today." in shown[-1]
    assert len(shown) == len(sent)
    for message in messages:
        eventually(lambda: status_of(message) == "delivered", message.content_type)  # noqa: B023

    # Read, with the typing indicator: her phone gets the read receipt, then the indicator.
    assert wa.indicate_typing(message_id=question.wamid).success
    assert status_of(question) == "read"
    receipts: list[Any] = []

    def both_arrived() -> bool:
        receipts.extend(r for r in alice.receive() if r.kind == "receipt")
        return len(receipts) >= 2

    eventually(both_arrived, "read and typing")
    assert [(r.receipt_kind, r.receipt_guid) for r in receipts] == [
        ("read", her_guid), ("typing", her_guid),
    ]  # fmt: skip

    # Media: upload, fetch its URL, download it, send it by id, delete it.
    uploaded = wa.upload_media(PNG, mime_type="image/png", filename="parcel.png")
    url = wa.get_media_url(uploaded.id)
    assert (url.mime_type, url.sha256) == ("image/png", hashlib.sha256(PNG).hexdigest())
    saved = wa.download_media(url=url.url, path=tmp_path, filename="copy.png")
    assert saved.read_bytes() == PNG
    photo = Message.objects.get(
        wamid=wa.send_image(to=to, image=uploaded.id, caption="Your parcel").id
    )
    eventually(lambda: status_of(photo) == "sent", "the image sent")
    (image,) = [r for r in alice.receive() if r.kind == "media"]
    assert image.body == "Your parcel" and alice.download(image.attachment or {}) == PNG
    assert wa.delete_media(uploaded.id).success
    with pytest.raises(WhatsAppError):
        wa.get_media_url(uploaded.id)

    # Her photo: the webhook's media id fetches its URL, and the download is the photo.
    alice.send_media(number.e164, PNG, file_name="broken.png", mime_type="image/png",
                     caption="it arrived broken", media_type=MediaType.IMAGE)  # fmt: skip
    hers = eventually(
        lambda: Message.objects.filter(direction="inbound", content_type="media").first(),
        "her photo",
    )
    theirs = wa.get_media_url(hers.content["media_id"])
    assert (theirs.mime_type, theirs.sha256) == ("image/png", hashlib.sha256(PNG).hexdigest())
    got = wa.download_media(url=theirs.url, path=tmp_path, filename="hers.png")
    assert got.read_bytes() == PNG

    assert wa.update_template(created.id, new_components=[
        BodyText("Hello {{1}}, your parcel arrives {{2}}.", "Ana", "today")]).success  # fmt: skip
    assert [t.status for t in wa.get_templates(name="delivery_note")] == [TemplateStatus.PENDING]
    assert wa.delete_template("delivery_note").success
    assert list(wa.get_templates()) == []
