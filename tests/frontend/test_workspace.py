"""The agents' workspace, server-rendered: the lists (mine, unassigned, all), a thread with
its customer panel, each form through its one action (accept, take, reply inside and
outside the service window, a template, a file, a private note, transfer, snooze, resolve,
the agent's status), the fragments the page asks for live, the roles the permission matrix
refuses and other tenants' conversations. Customers write through the inbound action the
business endpoint calls, and the routing consumer of the durable stream offers their
conversations; time moves on the frozen simulation clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import itertools
import json
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings

from e2ee.actions import do_create_device
from e2ee.protocol import ProtocolAddress, generate_identity_key_pair
from e2ee.store import DjangoDeviceState
from parley.accounts.models import PhoneNumber, StaffUser
from parley.core import clock
from parley.core.clock import FrozenClock
from parley.message_templates.actions import do_create_template, do_review_template
from parley.messaging.models import Message
from routing import index
from routing.actions.agents import do_set_agent_status
from routing.actions.setup import do_save_canned_response, do_save_queue
from routing.models import Agent, Note, Session, SessionLog
from tests.conftest import verified_session
from tests.frontend.helpers import by_testid, field_error
from tests.routing.conftest import consume, new_customer, write

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    index.forget()  # the routing index is per process: each test starts from the database
    yield
    index.forget()


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Care", country="IN")
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+9198203{next(_numbers) % 100000:05d}",
        country="IN",
        display_name="Care",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


def agent(factory: Any, number: PhoneNumber, status: str = Agent.Status.AVAILABLE) -> StaffUser:
    user = factory.staff(number.business, "agent")
    do_set_agent_status(user, status)
    return user


def offered(number: PhoneNumber, text: str = "Where is my parcel?") -> Message:
    """A customer writes and the routing consumer offers the conversation."""
    message = write(number, new_customer(), text)
    consume()
    return message


def session_of(message: Message) -> Session:
    return Session.objects.get(conversation=message.conversation)


def page(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def rows(body: str) -> list[str]:
    """The customers listed, in order."""
    return by_testid(body, "ws-customer")


pytestmark = pytest.mark.django_db


# -- the pages ---------------------------------------------------------------------------


def test_an_agent_sees_their_conversations_and_the_waiting_ones(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock
) -> None:
    alice = agent(factory, number)
    mine = offered(number, "Where is my parcel?")
    do_set_agent_status(alice, Agent.Status.BUSY)  # keeps what she holds, gets nothing new
    waiting = offered(number, "Hello?")  # nobody available: it waits
    assert session_of(waiting).state == Session.State.WAITING
    session = session_of(mine)
    session.labels = ["vip"]
    session.save(update_fields=["labels"])
    frozen_clock.advance(seconds=90)
    client = console_client.as_(alice)

    body = page(client.get("/workspace/"))
    assert rows(body) == [mine.conversation.customer]
    assert by_testid(body, "ws-queue") == ["General"]
    assert by_testid(body, "ws-state") == ["offered"]
    assert by_testid(body, "ws-unread") == ["1"]
    assert by_testid(body, "ws-waiting") == ["1m 30s"]  # the frozen clock's, not the wall's
    assert "vip" in body
    assert by_testid(body, "ws-load") == ["1 / 15"]
    assert '<option value="busy" selected>' in body
    assert 'href="/workspace/"' in body  # the nav names the page
    assert "j</kbd>" in body and "Enter</kbd>" in body  # the keys are documented

    body = page(client.get("/workspace/?tab=unassigned"))
    assert rows(body) == [waiting.conversation.customer]
    assert by_testid(body, "ws-state") == ["waiting"]
    body = page(client.get("/workspace/?tab=all"))
    assert sorted(rows(body)) == sorted([mine.conversation.customer,
                                         waiting.conversation.customer])  # fmt: skip
    # Another agent's conversation is not in an agent's "all".
    do_set_agent_status(alice, Agent.Status.OFFLINE)
    bob = agent(factory, number)
    assert session_of(waiting).agent.user == bob  # type: ignore[union-attr]
    assert waiting.conversation.customer not in rows(page(client.get("/workspace/?tab=all")))
    # A supervisor's "all" is everyone's.
    supervisor = factory.staff(number.business, "supervisor")
    body = page(console_client.as_(supervisor).get("/workspace/?tab=all"))
    assert sorted(rows(body)) == sorted([mine.conversation.customer,
                                         waiting.conversation.customer])  # fmt: skip


def test_the_thread_shows_messages_the_session_and_the_customer_panel(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = agent(factory, number)
    message = offered(number, "My order never came")
    conversation = message.conversation
    device = do_create_device(number.e164, business_number=True)
    state = DjangoDeviceState(device)
    address = ProtocolAddress(conversation.customer, 1)
    state.save_identity(address, generate_identity_key_pair().public_key)
    client = console_client.as_(alice)

    body = page(client.get(f"/workspace/{conversation.pk}/"))
    assert by_testid(body, "ws-message-text") == ["My order never came"]
    assert by_testid(body, "ws-session-state") == ["offered"]
    assert 'data-testid="accept"' in body and 'data-testid="take"' not in body
    assert by_testid(body, "cust-number") == [conversation.customer]
    assert by_testid(body, "cust-country") == ["India (IN)"]
    assert "unchanged since" in body
    safety = by_testid(body, "cust-safety-number")[0]
    assert re.fullmatch(r"(\d{5} ){11}\d{5}", safety)
    assert 'data-testid="reply-form"' in body  # the window is open
    # The customer re-installs: a new identity key; the panel says the code changed.
    state.save_identity(address, generate_identity_key_pair().public_key)
    body = page(client.get(f"/workspace/{conversation.pk}/"))
    assert by_testid(body, "cust-safety-changed")
    assert by_testid(body, "cust-safety-number")[0] != safety

    # The fragments the page asks for when the stream tells it something.
    row = page(client.get(f"/workspace/?part=row&tab=mine&session={session_of(message).pk}"))
    assert rows(row) == [conversation.customer]
    assert client.get(f"/workspace/?part=row&tab=unassigned&session={session_of(message).pk}"
                      ).status_code == 404  # fmt: skip
    item = page(client.get(f"/workspace/{conversation.pk}/?part=message&wamid={message.wamid}"))
    assert by_testid(item, "ws-message-text") == ["My order never came"]
    assert by_testid(page(client.get("/workspace/?part=status")), "ws-load") == ["1 / 15"]
    session = page(client.get(f"/workspace/{conversation.pk}/?part=session"))
    assert by_testid(session, "ws-session-state") == ["offered"]


@pytest.mark.parametrize("role", ["administrator", "compliance_officer"])
def test_roles_that_never_see_content_are_refused(
    role: str, factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    agent(factory, number)
    message = offered(number)
    conversation = message.conversation
    client = console_client.as_(factory.staff(number.business, role))
    for url in ("/workspace/", f"/workspace/{conversation.pk}/",
                f"/workspace/{conversation.pk}/?part=message&wamid={message.wamid}",
                "/workspace/?part=row&tab=all&session=1"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Where is my parcel" not in response.content.decode()
    assert client.post(f"/workspace/{conversation.pk}/reply/", {"text": "hi"}).status_code == 403
    assert client.post(f"/workspace/{conversation.pk}/note/", {"text": "hi"}).status_code == 403
    assert not Message.objects.filter(direction="outbound").exists()
    assert not Note.objects.exists()
    assert 'href="/workspace/"' not in client.get("/").content.decode()


def test_another_business_conversation_is_not_found(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    agent(factory, number)
    message = offered(number)
    rival = factory.business("Rival")
    client = console_client.as_(factory.staff(rival, "supervisor"))
    conversation_id = message.conversation_id
    assert client.get(f"/workspace/{conversation_id}/").status_code == 404
    for action in ("reply", "note", "accept", "take", "resolve", "snooze", "transfer"):
        response = client.post(f"/workspace/{conversation_id}/{action}/",
                               {"text": "x", "session": session_of(message).pk})  # fmt: skip
        assert response.status_code == 404, action
    assert client.get("/workspace/99999999/").status_code == 404
    assert not Message.objects.filter(direction="outbound").exists()
    assert not Note.objects.exists()
    assert session_of(message).state == Session.State.OFFERED
    assert rows(page(client.get("/workspace/?tab=all"))) == []


# -- the forms ---------------------------------------------------------------------------


def test_accept_and_take(factory: Any, number: PhoneNumber, console_client: Any) -> None:
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"
    session = session_of(message)

    response = client.post(url + "accept/", {"session": session.pk, "tab": "mine"})
    assert response.status_code == 302 and response["Location"] == url + "?tab=mine"
    assert session_of(message).state == Session.State.ACTIVE
    assert "Conversation accepted." in page(client.get(response["Location"]))

    do_set_agent_status(alice, Agent.Status.BUSY)  # nobody is offered new ones
    waiting = offered(number)
    assert session_of(waiting).state == Session.State.WAITING
    response = client.post(f"/workspace/{waiting.conversation_id}/take/",
                           {"session": session_of(waiting).pk})  # fmt: skip
    assert response.status_code == 302
    taken = session_of(waiting)
    assert taken.state == Session.State.ACTIVE and taken.agent.user == alice  # type: ignore[union-attr]
    assert Agent.objects.get(user=alice).load == 2

    # Taking what is no longer waiting is an error on the page, not a 500.
    bob = agent(factory, number, Agent.Status.BUSY)
    response = console_client.as_(bob).post(
        f"/workspace/{waiting.conversation_id}/take/", {"session": taken.pk}, follow=True
    )
    assert response.status_code == 200
    assert "no longer waiting" in html.unescape(response.content.decode())
    # A form naming a session that is not the conversation's open one changes nothing.
    response = client.post(url + "resolve/", {"session": taken.pk}, follow=True)
    assert "changed meanwhile" in html.unescape(response.content.decode())
    assert session_of(message).state == Session.State.ACTIVE


def test_a_reply_inside_the_window_goes_out_through_the_number(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"

    response = client.post(url + "reply/", {"text": "It ships today.", "tab": "mine"})
    assert response.status_code == 302
    sent = Message.objects.get(direction="outbound")
    assert (sent.content_type, sent.content["body"]) == ("text", "It ships today.")
    assert sent.conversation_id == message.conversation_id
    assert session_of(message).state == Session.State.ACTIVE  # answering accepts the offer
    body = page(client.get(url))
    assert "It ships today." in by_testid(body, "ws-message-text")
    assert by_testid(body, "msg-status")[-1] == "accepted"

    client.post(url + "reply/", {"text": "Was this helpful?", "button_1": "Yes",
                                 "button_2": "No"})  # fmt: skip
    interactive = Message.objects.filter(direction="outbound").order_by("-id").first()
    assert interactive is not None and interactive.content_type == "interactive"
    assert [b["title"] for b in interactive.content["buttons"]] == ["Yes", "No"]
    assert "Yes" in page(client.get(url))

    response = client.post(url + "reply/", {"text": "   "})
    assert "Write a reply." in field_error(page(response), "text")
    response = client.post(url + "reply/", {"text": "x", "button_1": "a" * 21})
    assert "20 characters" in field_error(page(response), "button_1")
    assert Message.objects.filter(direction="outbound").count() == 2


def test_a_reply_outside_the_window_is_refused_and_a_template_goes_out(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    created = do_create_template(
        number.business, name="order_update", language="en_US", category="UTILITY",
        components=[{"type": "BODY", "text": "Hi {{1}}, your order ships on {{2}}.",
                     "example": {"body_text": [["Mark", "Monday"]]}}],
    )  # fmt: skip
    do_review_template(number.business, created.graph_id, decision="APPROVED")
    do_create_template(
        number.business, name="pending_one", language="en_US", category="UTILITY",
        components=[{"type": "BODY", "text": "Not yet approved."}],
    )  # fmt: skip
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"
    frozen_clock.advance(hours=25)  # the 24 h service window closed

    body = page(client.get(url))
    assert by_testid(body, "window-closed")
    assert 'data-testid="reply-form"' not in body
    assert "order_update (en_US)" in body and "pending_one" not in body  # approved only
    response = client.post(url + "reply/", {"text": "Are you still there?"})
    assert "service window is closed" in field_error(page(response), "text")
    assert not Message.objects.filter(direction="outbound").exists()

    response = client.post(url + "template/", {"template": "order_update|en_US",
                                               "parameter": ["Asha"]})  # fmt: skip
    assert "needs 2 value" in field_error(page(response), "template")
    response = client.post(url + "template/", {"template": "order_update|en_US",
                                               "parameter": ["Asha", "Friday"]})  # fmt: skip
    assert response.status_code == 302
    sent = Message.objects.get(direction="outbound")
    assert sent.content_type == "template"
    assert sent.content["body"] == "Hi Asha, your order ships on Friday."
    assert "Hi Asha, your order ships on Friday." in page(client.get(url))


PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)))
    + struct.pack(">I", 12) + b"IDAT" + zlib.compress(b"\x00\xff\x00\x00")
    + struct.pack(">I", zlib.crc32(b"IDAT" + zlib.compress(b"\x00\xff\x00\x00")))
    + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
)  # fmt: skip


def test_a_file_goes_out_through_the_media_path_inside_the_window(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock,
    settings: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"

    upload = SimpleUploadedFile("receipt.png", PNG, content_type="image/png")
    response = client.post(url + "attach/", {"file": upload, "caption": "Your receipt"})
    assert response.status_code == 302
    sent = Message.objects.get(direction="outbound")
    assert (sent.content_type, sent.content["kind"], sent.content["caption"]) == (
        "media", "image", "Your receipt")  # fmt: skip
    assert sent.content["pointer"]["media_key"]  # encrypted, the key kept in the tenant
    body = page(client.get(url))
    assert "receipt.png" in body
    download = client.get(f"/messages/{sent.wamid}/media/")
    assert download.status_code == 200 and download.content == PNG  # decrypted for staff

    bad = SimpleUploadedFile("notes.exe", b"MZ" + b"\0" * 100, content_type="application/x-exe")
    response = client.post(url + "attach/", {"file": bad})
    assert "131053" in page(response)  # the media path's own check
    frozen_clock.advance(hours=25)
    again = SimpleUploadedFile("receipt.png", PNG, content_type="image/png")
    response = client.post(url + "attach/", {"file": again})
    assert "service window is closed" in field_error(page(response), "file")
    assert Message.objects.filter(direction="outbound").count() == 1


def test_a_private_note_is_listed_in_the_thread_marked_private(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"

    response = client.post(url + "note/", {"text": "Customer is upset about a late order."})
    assert response.status_code == 302
    note = Note.objects.get()
    assert (note.author, note.conversation_id) == (alice, message.conversation_id)
    body = page(client.get(url))
    assert by_testid(body, "ws-note-text") == ["Customer is upset about a late order."]
    assert by_testid(body, "ws-note-private") == ["Private note"]
    assert not Message.objects.filter(direction="outbound").exists()  # never sent
    response = client.post(url + "note/", {"text": ""})
    assert "required" in field_error(page(response), "text")
    assert Note.objects.count() == 1


def test_transfer_to_an_agent_or_a_queue_with_a_note(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    bob = factory.staff(number.business, "agent")
    do_set_agent_status(bob, Agent.Status.BUSY)  # reachable by a transfer, not by routing
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"
    session = session_of(message)

    response = client.post(url + "transfer/", {"session": session.pk})
    assert "one agent or one queue" in page(response)
    response = client.post(url + "transfer/", {"session": session.pk, "to_agent": bob.pk,
                                               "note": "Billing question: yours."})  # fmt: skip
    assert response.status_code == 302
    moved = session_of(message)
    assert (moved.state, moved.agent.user) == (Session.State.OFFERED, bob)  # type: ignore[union-attr]
    assert Agent.objects.get(user=alice).load == 0 and Agent.objects.get(user=bob).load == 1
    log = SessionLog.objects.get(session=moved, kind="transferred")
    assert log.note == "Billing question: yours."
    body = page(console_client.as_(bob).get(url))
    assert by_testid(body, "ws-transfer-note") == ["Billing question: yours."]
    assert rows(page(console_client.as_(bob).get("/workspace/"))) == [message.conversation.customer]

    # Alice no longer holds it: her transfer is refused on the form.
    response = console_client.as_(alice).post(url + "transfer/", {"session": moved.pk,
                                                                  "to_agent": bob.pk})  # fmt: skip
    assert "assigned to someone else" in page(response)

    do_set_agent_status(alice, Agent.Status.AWAY)  # so the queue keeps it waiting
    billing = do_save_queue(factory.staff(number.business, "supervisor"), name="Billing")
    response = console_client.as_(bob).post(
        url + "transfer/", {"session": moved.pk, "to_queue": billing.pk, "note": "Queue it"}
    )
    assert response.status_code == 302
    queued = session_of(message)
    assert queued.queue == billing and queued.state == Session.State.WAITING
    assert Agent.objects.get(user=bob).load == 0


def test_snooze_and_resolve(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"
    session = session_of(message)

    response = client.post(url + "snooze/", {"session": session.pk})
    assert "how long to snooze" in page(response)
    response = client.post(url + "snooze/", {"session": session.pk, "until": "2020-01-01T00:00"})
    assert "in the future" in field_error(page(response), "until")
    response = client.post(url + "snooze/", {"session": session.pk, "minutes": "60"})
    assert response.status_code == 302
    snoozed = session_of(message)
    assert snoozed.state == Session.State.SNOOZED
    assert snoozed.snoozed_until == frozen_clock.now() + dt.timedelta(minutes=60)
    assert Agent.objects.get(user=alice).load == 0

    response = client.post(url + "resolve/", {"session": snoozed.pk})
    assert response.status_code == 302
    resolved = Session.objects.get(pk=session.pk)
    assert resolved.state == Session.State.RESOLVED and resolved.closed_at == frozen_clock.now()
    body = page(client.get(url))
    assert by_testid(body, "ws-no-session")
    assert rows(page(client.get("/workspace/"))) == []
    # The next message opens a new session; the panel lists the resolved one as past.
    write(number, message.conversation.customer, "One more thing")
    consume()
    body = page(client.get(url))
    assert "resolved" in " ".join(re.findall(r'data-testid="cust-past">(.*?)</ul>', body, re.S))


def test_the_agent_sets_their_status(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = factory.staff(number.business, "agent")  # no routing profile yet
    client = console_client.as_(alice)
    body = page(client.get("/workspace/"))
    assert by_testid(body, "ws-agent-status") == ["offline"]
    assert not Agent.objects.filter(user=alice).exists()  # reading writes nothing

    write(number, new_customer(), "anyone?")
    consume()
    response = client.post("/workspace/status/", {"status": "available", "tab": "unassigned"})
    assert response.status_code == 302 and response["Location"] == "/workspace/?tab=unassigned"
    profile = Agent.objects.get(user=alice)
    assert profile.status == Agent.Status.AVAILABLE
    assert profile.load == 1  # becoming available pulled the waiting conversation at once
    body = page(client.get("/workspace/"))
    assert by_testid(body, "ws-agent-status") == ["available"]
    assert by_testid(body, "ws-load") == ["1 / 15"]
    response = client.post("/workspace/status/", {"status": "napping"}, follow=True)
    assert "Choose available, busy, away or offline." in page(response)
    assert Agent.objects.get(user=alice).status == Agent.Status.AVAILABLE


def test_developers_read_and_answer_but_are_not_routed(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    agent(factory, number)
    message = offered(number)
    developer = factory.staff(number.business, "developer")
    client = console_client.as_(developer)
    body = page(client.get("/workspace/?tab=unassigned"))
    assert by_testid(body, "ws-not-routed")
    body = page(client.get(f"/workspace/{message.conversation_id}/"))
    assert by_testid(body, "ws-cannot-reply")
    response = client.post(f"/workspace/{message.conversation_id}/reply/", {"text": "hi"})
    assert "not assigned to you" in page(response)
    assert not Message.objects.filter(direction="outbound").exists()


def test_canned_responses_are_offered_by_shortcut(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    alice = agent(factory, number)
    supervisor = factory.staff(number.business, "supervisor")
    do_save_canned_response(supervisor, shortcut="thanks", text="Thank you for waiting!")
    message = offered(number)
    body = page(console_client.as_(alice).get(f"/workspace/{message.conversation_id}/"))
    assert '<option value="thanks" data-text="Thank you for waiting!">' in body


# -- presence over the websocket ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_over_the_websocket_records_presence(
    asgi_server: str, factory: Any, number: PhoneNumber
) -> None:
    alice = agent(factory, number)
    bob = agent(factory, number)
    admin = factory.staff(number.business, "administrator")
    Agent.objects.filter(user__in=[alice, bob]).update(last_seen_at=None, last_active_at=None)
    url = asgi_server.replace("http://", "ws://") + "/ws/events/"

    async def beat(user: Any, active: bool) -> dict[str, Any]:
        cookie = f"{settings.SESSION_COOKIE_NAME}={await asyncio.to_thread(verified_session, user)}"
        async with websockets.connect(url, additional_headers={"Origin": asgi_server,
                                      "Cookie": cookie}, open_timeout=10) as ws:  # fmt: skip
            assert json.loads(await ws.recv())["event"] == "stream.ready"
            await ws.send(json.dumps({"type": "heartbeat", "active": active}))
            reply = await _next(ws, "heartbeat.recorded")
            await ws.send(json.dumps({"type": "ping"}))
            assert (await _next(ws, "pong"))["event"] == "pong"  # ping/pong still works
            return reply

    got = asyncio.run(beat(alice, True))
    assert got["data"]["agent"] == {"status": "available", "load": 0, "capacity": 15}
    seen = Agent.objects.get(user=alice)
    assert seen.last_seen_at is not None and seen.last_active_at == seen.last_seen_at

    asyncio.run(beat(bob, False))  # the tab is open, nobody touched it
    idle = Agent.objects.get(user=bob)
    assert idle.last_seen_at is not None and idle.last_active_at is None

    assert asyncio.run(beat(admin, True))["data"]["agent"] is None  # not routed


async def _next(ws: Any, name: str) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            message = json.loads(await ws.recv())
            if message["event"] == name:
                return message

    return await asyncio.wait_for(wait(), 15)


# -- typing, named templates, the reply box's live swap ----------------------------------


def test_an_agent_writing_an_answer_marks_read_and_tells_the_phone_and_the_others(
    factory: Any, number: PhoneNumber, frozen_clock: FrozenClock
) -> None:
    from parley.core.errors import PermissionDenied
    from parley.core.models import StreamEntry
    from routing.actions.typing import do_indicate_typing

    alice = agent(factory, number)
    bob = agent(factory, number)
    supervisor = factory.staff(number.business, "supervisor")
    first = offered(number, "Hello?")
    offered_to = session_of(first).agent
    assert offered_to is not None
    holder = alice if offered_to.user_id == alice.pk else bob
    other = bob if holder is alice else alice
    second = write(number, first.conversation.customer, "Anyone there?")
    consume()

    event = do_indicate_typing(holder, first.conversation_id)
    assert (event.typist_user_id, event.typist_name) == (holder.pk, holder.full_name)
    assert event.until - frozen_clock.now() == dt.timedelta(seconds=25)
    # As the platform counts it, writing an answer means the customer's messages were read.
    assert [m.status for m in Message.objects.filter(pk__in=[first.pk, second.pk])] == [
        "read", "read",
    ]  # fmt: skip

    def logged() -> list[Any]:
        return list(StreamEntry.objects.filter(name="conversation.typing").order_by("id"))

    assert [(e.payload["conversation_id"], e.payload["typist_user_id"]) for e in logged()] == [
        (first.conversation_id, holder.pk)
    ]

    # Only who may answer indicates typing: not another agent; a supervisor may.
    with pytest.raises(PermissionDenied):
        do_indicate_typing(other, first.conversation_id)
    assert len(logged()) == 1
    do_indicate_typing(supervisor, first.conversation_id)
    assert logged()[-1].payload["typist_user_id"] == supervisor.pk


def test_a_template_with_named_header_and_url_values_is_sent_from_the_picker(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    created = do_create_template(
        number.business, name="parcel_named", language="en_US", category="UTILITY",
        parameter_format="NAMED",
        components=[
            {"type": "HEADER", "format": "TEXT", "text": "Parcel {{parcel}}",
             "example": {"header_text_named_params": [{"param_name": "parcel",
                                                       "example": "P1"}]}},
            {"type": "BODY", "text": "Hi {{first_name}}, it arrives {{day}}.",
             "example": {"body_text_named_params": [
                 {"param_name": "first_name", "example": "Ana"},
                 {"param_name": "day", "example": "today"}]}},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Track", "url": "https://acme.test/t/{{1}}",
                 "example": ["https://acme.test/t/P1"]}]},
        ],
    )  # fmt: skip
    do_review_template(number.business, created.graph_id, decision="APPROVED")
    client = console_client.as_(alice)
    url = f"/workspace/{message.conversation_id}/"
    frozen_clock.advance(hours=25)

    body = page(client.get(url))
    labels = ["Header {{parcel}}", "Body {{first_name}}", "Body {{day}}", "Button 1 URL {{1}}"]
    assert f'data-labels="{json.dumps(labels)}"' in body
    assert len(by_testid(body, "template-parameter")) == 4  # as many as it takes

    response = client.post(url + "template/", {"template": "parcel_named|en_US",
                                               "parameter": ["P7", "Asha"]})  # fmt: skip
    error = field_error(page(response), "template")
    assert "needs 4 value(s): Header {{parcel}}, Body {{first_name}}" in error
    assert not Message.objects.filter(direction="outbound").exists()
    response = client.post(url + "template/", {
        "template": "parcel_named|en_US", "parameter": ["P7", "Asha", "on Friday", "P7"],
    })  # fmt: skip
    assert response.status_code == 302
    sent = Message.objects.get(direction="outbound")
    assert sent.content["header"] == "Parcel P7"
    assert sent.content["body"] == "Hi Asha, it arrives on Friday."
    assert list(sent.content["parameters"]) == ["P7", "Asha", "on Friday", "P7"]


def test_the_reply_box_part_follows_the_service_window(
    factory: Any, number: PhoneNumber, console_client: Any, frozen_clock: FrozenClock
) -> None:
    alice = agent(factory, number)
    message = offered(number)
    client = console_client.as_(alice)
    part = f"/workspace/{message.conversation_id}/?part=reply"

    def box() -> str:
        return page(client.get(part))

    open_box = box()
    assert 'data-window="open"' in open_box and 'data-testid="reply-form"' in open_box
    assert "service window open until" in open_box
    frozen_clock.advance(hours=25)
    closed = box()
    assert 'data-window="closed"' in closed and 'data-testid="reply-form"' not in closed
    assert by_testid(closed, "window-closed") and "only approved templates" in closed
    write(number, message.conversation.customer, "Still there?")  # the customer reopens it
    consume()
    assert 'data-window="open"' in box()
    # Someone else's conversation: not found, as the thread itself.
    rival = factory.business("Rival")
    other = factory.staff(rival, "agent")
    assert console_client.as_(other).get(part).status_code == 404


def test_live_pages_carry_the_stream_position_they_were_read_at(
    factory: Any, number: PhoneNumber, console_client: Any
) -> None:
    """The socket of a live page starts where the page was read (stream.js reads
    `data-stream-after`): an error shown again starts from there too; fragments and pages
    without a live feed carry none."""
    from parley.core.stream import log as stream_log

    agent(factory, number)
    message = offered(number)
    developer = factory.staff(number.business, "developer")
    client = console_client.as_(developer)
    position = f'data-stream-after="{stream_log.last_id()}"'
    assert stream_log.last_id() > 0
    assert position in page(client.get(f"/workspace/{message.conversation_id}/"))
    assert position in page(client.get("/messages/"))
    refused = client.post(f"/workspace/{message.conversation_id}/reply/", {"text": "hi"})
    assert "not assigned to you" in page(refused)
    assert position in page(refused)
    fragment = client.get(f"/workspace/{message.conversation_id}/?part=reply")
    assert "data-stream-after" not in page(fragment)
    assert "data-stream-after" not in page(client.get("/tokens/"))
