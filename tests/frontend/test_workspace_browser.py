"""The agents' workspace in headless Chromium on the real stack: uvicorn (the console, the
relay and the websockets), a Celery worker (the business endpoint and the stream's
consumers: routing, the console fan-out) and the handset fleet, each its own process.

A simulated customer writes from their handset; the conversation appears in the assigned
agent's list without a reload; the agent opens it from the keyboard and replies; the
customer's handset decrypts the reply; the ticks move as it is delivered and read; the
supervisor's page shows the agent's load change; an administrator is refused the thread."""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

import pytest
import requests
from django.conf import settings
from playwright.sync_api import Page, expect

from e2ee.handsets.control import FleetControl
from e2ee.handsets.selectors import get_fleet_handset, list_typing_peers
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.message_templates.actions import do_create_template, do_review_template
from parley.messaging.models import Message
from routing.actions.agents import do_set_agent_status
from routing.actions.setup import do_save_canned_response
from routing.models import Agent, Session
from tests.conftest import verified_session
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.handsets.conftest import handset_fleet, wait_for  # noqa: F401
from tests.parley.messaging.test_spine_live import serve
from tests.parley.relay.scan import find_plaintext

LIVE = 30_000  # ms: a push across the worker, the channel layer and the socket
_numbers = itertools.count(1)


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Care", country="US")
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+1415558{next(_numbers) % 10000:04d}",
        country="US",
        display_name="Care",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


def _open(page: Page, base: str, user: Any, path: str) -> list[str]:
    """Sign `user` in (a verified session) and open `path`; returns the policy problems
    (blocked resources, script errors) seen from then on."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type in ("error", "warning") and (
            "Content Security Policy" in message.text or "Refused to" in message.text
        ):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": verified_session(user), "url": base}]
    )
    page.goto(f"{base}{path}")
    return problems


def _live(page: Page) -> None:
    expect(page.get_by_test_id("stream-state")).to_have_text("live", timeout=LIVE)
    # Set on this document only: still there later means the page was never reloaded.
    page.evaluate("window.stillTheSamePage = true")


def _same(page: Page) -> bool:
    return bool(page.evaluate("window.stillTheSamePage === true"))


def test_a_customer_writes_the_agent_answers_live_and_the_handset_decrypts_it(
    page: Page,
    browser: Any,
    handset_fleet: FleetControl,  # noqa: F811
    asgi_server: str,
    number: PhoneNumber,
    factory: Any,
    shared_clock: None,
) -> None:
    serve(number, factory, asgi_server)
    business = number.business
    alice = factory.staff(business, "agent")
    do_set_agent_status(alice, Agent.Status.AVAILABLE)
    Agent.objects.filter(user=alice).update(last_seen_at=None, last_active_at=None)
    supervisor = factory.staff(business, "supervisor")
    admin = factory.staff(business, "administrator")
    customer = new_handset_number()
    handset_fleet.create(customer)
    wait_for(lambda: handset_fleet.get(customer)["connected"], what="the handset's websocket")
    question = "PARCEL-" + os.urandom(4).hex() + " where is my parcel?"
    answer = "SHIPS-" + os.urandom(4).hex() + " it ships today"
    do_save_canned_response(supervisor, shortcut="ships", text=answer)
    template = do_create_template(
        business, name="still_there", language="en_US", category="UTILITY",
        components=[{"type": "BODY", "text": "Hi {{1}}, can we help with anything else?",
                     "example": {"body_text": [["Ana"]]}}],
    )  # fmt: skip
    do_review_template(business, template.graph_id, decision="APPROVED")

    problems = _open(page, asgi_server, alice, "/workspace/")
    _live(page)
    expect(page.get_by_test_id("ws-empty")).to_be_visible()
    expect(page.get_by_test_id("ws-load")).to_have_text("0 / 15")
    # The page beats over its socket: the agent is present.
    wait_for(lambda: Agent.objects.get(user=alice).last_seen_at is not None, what="a heartbeat")
    assert Agent.objects.get(user=alice).last_active_at is not None  # the page just opened

    boss = browser.new_context()
    try:
        watch = boss.new_page()
        boss_problems = _open(watch, asgi_server, supervisor, "/supervision/")
        expect(watch.get_by_test_id("stream-state")).to_have_text("live", timeout=LIVE)
        load = watch.locator(f'tr[data-agent="{alice.pk}"]').get_by_test_id("agent-load")
        expect(load).to_have_text("0 / 15")

        # The customer writes from their phone: encrypted to the business number, decrypted
        # by its endpoint in the worker, routed to Alice, announced on her socket.
        handset_fleet.send_text(customer, number.e164, question)
        row = page.locator(f'tr.ws-row:has-text("{customer}")')
        expect(row).to_have_count(1, timeout=LIVE)
        expect(row.get_by_test_id("ws-state")).to_have_text("offered")
        expect(row.get_by_test_id("ws-unread")).to_have_text("1")
        expect(row.get_by_test_id("ws-queue")).to_have_text("General")
        expect(page.get_by_test_id("ws-load")).to_have_text("1 / 15", timeout=LIVE)
        expect(page.get_by_test_id("ws-empty")).to_be_hidden()
        assert _same(page)
        expect(load).to_have_text("1 / 15", timeout=LIVE)  # the supervisor sees it too
        # The customer insists before anyone answered: the unread count follows.
        again = "HELLO-" + os.urandom(4).hex()
        handset_fleet.send_text(customer, number.e164, again)
        expect(row.get_by_test_id("ws-unread")).to_have_text("2", timeout=LIVE)
        assert _same(page)

        # From the keyboard: j selects the first conversation, Enter opens it.
        page.keyboard.press("j")
        expect(row).to_have_class(re.compile(r"\bcurrent\b"))
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/workspace/\d+/"))
        expect(page.get_by_test_id("ws-message-text")).to_have_text([question, again])
        expect(page.get_by_test_id("cust-number")).to_have_text(customer)
        expect(page.get_by_test_id("cust-country")).to_have_text("India (IN)")
        expect(page.get_by_test_id("ws-session-state")).to_have_text("offered")
        _live(page)

        # The supervisor opens the same conversation beside her.
        thread_url = page.url.removeprefix(asgi_server)
        beside = boss.new_page()
        beside_problems = _open(beside, asgi_server, supervisor, thread_url)
        _live(beside)
        expect(beside.get_by_test_id("ws-typing")).to_be_hidden()

        page.keyboard.press("r")  # to the reply box
        page.keyboard.type("/ships")
        # Writing an answer: the customer's phone shows "typing…" (and her messages are
        # read, as the platform counts it); the supervisor sees who is writing.
        expect(beside.get_by_test_id("ws-typing")).to_have_text(
            f"{alice.full_name} is typing…", timeout=LIVE
        )
        phone = get_fleet_handset(customer)
        assert phone is not None
        wait_for(
            lambda: list_typing_peers([phone.pk]).get(phone.pk) == [number.e164],
            timeout=LIVE / 1000, what="typing… on the customer's phone",
        )  # fmt: skip
        inbound = Message.objects.filter(conversation__customer=customer, direction="inbound")
        assert {m.status for m in inbound} == {"read"}
        page.keyboard.press("Tab")  # the canned response by its shortcut
        expect(page.locator("[data-reply-text]")).to_have_value(answer)
        page.keyboard.press("Control+Enter")
        expect(page.locator(".flash")).to_contain_text("Reply sent.")
        _live(page)
        sent = page.locator("li.ws-msg.outbound").filter(has_text=answer)
        expect(sent).to_have_count(1)
        expect(page.get_by_test_id("ws-session-state")).to_have_text("active")
        # The answer went out: nobody is shown typing any more, here or on the phone.
        expect(beside.get_by_test_id("ws-typing")).to_be_hidden(timeout=LIVE)
        expect(beside.locator("li.ws-msg.outbound").filter(has_text=answer)).to_have_count(
            1, timeout=LIVE
        )
        wait_for(
            lambda: not list_typing_peers([phone.pk]),
            timeout=LIVE / 1000, what="the answer on the phone ending typing…",
        )  # fmt: skip

        # The handset is online: it decrypts the reply and acknowledges it; the tick moves.
        inbox = wait_for(
            lambda: [i for i in handset_fleet.inbox(customer) if i.get("body") == answer],
            timeout=LIVE / 1000, what="the reply on the handset",
        )  # fmt: skip
        assert inbox[0]["sender"] == number.e164
        expect(sent.get_by_test_id("msg-status")).to_have_text(
            re.compile("^(delivered|read)$"), timeout=LIVE
        )
        assert handset_fleet.read(customer)  # the customer opens the chat: a read receipt
        expect(sent.get_by_test_id("msg-status")).to_have_text("read", timeout=LIVE)
        expect(sent.locator("[data-ticks]")).to_have_class(re.compile(r"\btick-read\b"))

        # The customer answers: the message joins the open thread live.
        thanks = "THANKS-" + os.urandom(4).hex()
        handset_fleet.send_text(customer, number.e164, thanks)
        expect(page.locator("li.ws-msg.inbound").filter(has_text=thanks)).to_have_count(
            1, timeout=LIVE
        )
        assert _same(page)

        # Resolving frees Alice's capacity: her header and the supervisor's page follow.
        page.get_by_test_id("resolve").click()
        expect(page.locator(".flash")).to_contain_text("Conversation resolved.")
        expect(page.get_by_test_id("ws-load")).to_have_text("0 / 15")
        expect(load).to_have_text("0 / 15", timeout=LIVE)

        # A day later the service window closes: the supervisor's open thread swaps the
        # reply box for the template picker without a reload.
        expect(beside.get_by_test_id("reply-form")).to_be_visible()
        developer = factory.staff(business, "developer")
        token = do_create_api_token(developer, name="ops", scopes=["manage_clock"]).secret
        moved = requests.post(
            f"{asgi_server}/parley/v1/clock/advance", json={"duration": "25h"},
            headers={"Authorization": f"Bearer {token}"}, timeout=30,
        )  # fmt: skip
        assert moved.status_code == 200, moved.text
        expect(beside.get_by_test_id("window-closed")).to_be_visible(timeout=LIVE)
        expect(beside.get_by_test_id("reply-form")).to_have_count(0)
        expect(beside.get_by_test_id("ws-window")).to_contain_text("service window closed")
        expect(beside.get_by_test_id("template-select")).to_be_visible()
        beside.get_by_test_id("template-select").select_option("still_there|en_US")
        expect(beside.locator("[data-parameter-label]").first).to_have_text("Body {{1}}")
        assert bool(beside.evaluate("window.stillTheSamePage === true"))
        assert problems == [] and boss_problems == [] and beside_problems == []
    finally:
        boss.close()

    conversation_id = Session.objects.get(conversation__customer=customer).conversation_id
    assert Message.objects.filter(conversation_id=conversation_id, direction="outbound").count()
    # An administrator manages accounts and never reads content: refused the thread.
    other = browser.new_context()
    try:
        refused = other.new_page()
        _open(refused, asgi_server, admin, "/")
        response = refused.goto(f"{asgi_server}/workspace/{conversation_id}/")
        assert response is not None and response.status == 403
        expect(refused.locator("h1")).to_contain_text("Not allowed")
        assert question not in refused.content() and answer not in refused.content()
        expect(refused.locator('nav a[href="/workspace/"]')).to_have_count(0)
    finally:
        other.close()
    for plaintext in (question, again, answer, thanks):
        assert find_plaintext(plaintext.encode()) == []  # the relay held ciphertext only
