"""A media message on the developers' Messages page: its row and timeline show the file
(name, type, size) and a download link, served decrypted to staff of that business who
read conversations, and to nobody else."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.messaging.actions import do_send_message
from parley.messaging.endpoint import store_media
from parley.messaging.models import Message

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + b"statement " * 300


@pytest.fixture
def sent(factory: Any, settings: Any, tmp_path: Path) -> Message:
    settings.MEDIA_ROOT = tmp_path
    business = factory.business("Shop", country="US")
    number = PhoneNumber.objects.create(
        business=business, e164="+14155556789", country="US", display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    content = store_media(PDF, file_name="statement.pdf", mime_type="application/pdf",
                          kind="document", caption="Your statement")  # fmt: skip
    return do_send_message(number, "+919876500011", content)


def link(message: Message) -> str:
    return f"/messages/{quote(message.wamid, safe='')}/media/"


def test_the_row_and_timeline_show_the_file_and_its_link(
    sent: Message, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(sent.conversation.number.business, "developer"))
    for page in ("/messages/", f"/messages/{quote(sent.wamid, safe='')}/"):
        body = html.unescape(client.get(page).content.decode())
        assert "statement.pdf" in body and "application/pdf" in body, page
        assert "2.9\xa0KB" in body, page  # 3,009 bytes
        assert f'href="{link(sent)}"' in body, page
    response = client.get(link(sent))
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="statement.pdf"' in response["Content-Disposition"]


@pytest.mark.parametrize(("role", "status"), [("agent", 200), ("supervisor", 200),
                                              ("administrator", 403),
                                              ("compliance_officer", 403)])  # fmt: skip
def test_only_roles_that_read_conversations_download(
    sent: Message, factory: Any, console_client: Any, role: str, status: int
) -> None:
    client = console_client.as_(factory.staff(sent.conversation.number.business, role))
    response = client.get(link(sent))
    assert response.status_code == status
    assert (PDF in response.content) == (status == 200)


def test_administrators_see_no_file_and_other_tenants_nothing(
    sent: Message, factory: Any, console_client: Any
) -> None:
    admin = console_client.as_(factory.staff(sent.conversation.number.business, "administrator"))
    body = admin.get("/messages/").content.decode()
    assert sent.wamid in body and "statement.pdf" not in body and "/media/" not in body
    stranger = console_client.as_(factory.staff(factory.business("Other"), "developer"))
    response = stranger.get(link(sent))
    assert response.status_code == 404 and PDF not in response.content
