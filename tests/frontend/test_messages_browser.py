"""The Messages page in headless Chromium against a real uvicorn and worker: statuses and
new messages show up live, without a reload, under the Content-Security-Policy."""

from __future__ import annotations

import itertools
import re
from typing import Any

from django.conf import settings
from playwright.sync_api import Page, expect

from parley.accounts.models import Business, PhoneNumber
from parley.core import clock
from parley.messaging import actions
from parley.messaging.content import Text
from tests.conftest import verified_session

CUSTOMER = "+919876500033"
_numbers = itertools.count(500)


def _number(business: Business) -> PhoneNumber:
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+1415557{next(_numbers) % 10000:04d}",
        country="US",
        display_name="Live",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


def _open(page: Page, base: str, user: Any, path: str) -> list[str]:
    """Sign `user` in with a verified session, open `path`; returns the policy problems
    (blocked resources, script errors) seen from then on."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        text = message.text
        if message.type in ("error", "warning") and (
            "Content Security Policy" in text or "Refused to" in text
        ):
            problems.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": verified_session(user), "url": base}]
    )
    page.goto(f"{base}{path}")
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    # Set on this document only: still there at the end means the page was never reloaded.
    page.evaluate("window.stillTheSamePage = true")
    return problems


def _row(page: Page, wamid: str) -> Any:
    return page.locator(f'tr[data-wamid="{wamid}"]')


def test_statuses_and_new_messages_show_up_live_in_the_log(
    page: Page, asgi_server: str, celery_worker: None, factory: Any
) -> None:
    business = factory.business()
    developer = factory.staff(business, "developer")
    number = _number(business)
    first = actions.do_send_message(number, CUSTOMER, Text("parcel shipped"), deliver=False)
    actions.do_record_sent_envelope(first.pk, "live-1", 1)
    problems = _open(page, asgi_server, developer, "/messages/")
    badge = _row(page, first.wamid).get_by_test_id("msg-status")
    expect(badge).to_have_text("sent")

    actions.do_apply_receipt(number, "live-1", "delivery")
    expect(badge).to_have_text("delivered", timeout=20_000)
    expect(badge).to_have_class("badge status-delivered")
    expect(_row(page, first.wamid).locator('[data-stamp="delivered"]')).to_be_visible()
    actions.do_apply_receipt(number, "live-1", "read")
    expect(badge).to_have_text("read", timeout=20_000)

    # New messages join the first page of the unfiltered log, text and all.
    second = actions.do_send_message(number, CUSTOMER, Text("anything else?"), deliver=False)
    expect(_row(page, second.wamid).get_by_test_id("msg-status")).to_have_text(
        "accepted", timeout=20_000
    )
    expect(_row(page, second.wamid).get_by_test_id("msg-preview")).to_have_text("anything else?")
    inbound = actions.do_record_inbound_message(
        number, CUSTOMER, Text("no thanks"), envelope_guid="live-in-1"
    )
    expect(_row(page, inbound.wamid).get_by_test_id("msg-status")).to_have_text(
        "received", timeout=20_000
    )
    expect(page.locator("#message-log tbody tr[data-wamid]")).to_have_count(3)
    expect(page.locator("#message-log tbody tr[data-wamid]").first).to_have_attribute(
        "data-wamid", inbound.wamid
    )

    actions.do_fail_message(second.pk, 131026, "Message undeliverable")
    expect(_row(page, second.wamid).get_by_test_id("msg-error")).to_have_text(
        "131026 Message undeliverable", timeout=20_000
    )
    assert page.evaluate("window.stillTheSamePage === true")
    assert problems == []


def test_a_filtered_log_announces_new_messages_and_the_timeline_updates_live(
    page: Page, browser: Any, asgi_server: str, celery_worker: None, factory: Any
) -> None:
    business = factory.business()
    developer = factory.staff(business, "developer")
    number = _number(business)
    message = actions.do_send_message(number, CUSTOMER, Text("your code is 1234"), deliver=False)
    actions.do_record_sent_envelope(message.pk, "live-2", 1)
    problems = _open(page, asgi_server, developer, "/messages/?status=sent")
    expect(page.get_by_test_id("live-notice")).to_be_hidden()
    actions.do_send_message(number, CUSTOMER, Text("later"), deliver=False)
    expect(page.get_by_test_id("live-notice")).to_be_visible(timeout=20_000)
    expect(page.locator("#message-log tbody tr[data-wamid]")).to_have_count(1)  # not inserted

    page.goto(f"{asgi_server}/messages/{message.wamid}/")
    expect(page.get_by_test_id("stream-state")).to_have_text("live")
    page.evaluate("window.stillTheSamePage = true")
    expect(page.get_by_test_id("stamp-delivered")).to_have_text("—")
    events = page.locator("#stream-events tbody tr[data-stream-id]")
    before = events.count()
    actions.do_apply_receipt(number, "live-2", "delivery")
    expect(page.get_by_test_id("stamp-delivered")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"), timeout=20_000
    )
    expect(page.get_by_test_id("msg-status")).to_have_text("delivered")
    expect(events).to_have_count(before + 2)  # status_changed and billing's delivery fact

    # An administrator (no text) sees the same statuses live: the event carries no content.
    admin = factory.staff(business, "administrator")
    context = browser.new_context()
    try:
        other = context.new_page()
        admin_problems = _open(other, asgi_server, admin, "/messages/")
        expect(other.get_by_test_id("msg-preview")).to_have_count(0)
        actions.do_apply_receipt(number, "live-2", "read")
        expect(_row(other, message.wamid).get_by_test_id("msg-status")).to_have_text(
            "read", timeout=20_000
        )
        expect(page.get_by_test_id("msg-status")).to_have_text("read", timeout=20_000)
        assert "your code is 1234" not in other.content()
        assert other.evaluate("window.stillTheSamePage === true")
        assert admin_problems == []
    finally:
        context.close()
    assert page.evaluate("window.stillTheSamePage === true")
    assert problems == []


def test_a_status_that_moves_while_the_page_loads_still_reaches_it(
    page: Page, asgi_server: str, celery_worker: None, factory: Any
) -> None:
    """The page's socket starts at the stream position the page was rendered at: what
    commits between the render and the socket's first connection is replayed, not lost."""
    business = factory.business()
    developer = factory.staff(business, "developer")
    number = _number(business)
    message = actions.do_send_message(number, CUSTOMER, Text("on its way"), deliver=False)
    actions.do_record_sent_envelope(message.pk, "live-3", 1)
    held: list[Any] = []

    def route(ws: Any) -> None:
        if held:
            ws.connect_to_server()
        else:
            held.append(ws)  # the page's first socket never reaches the server

    page.route_web_socket(re.compile(r"/ws/events/"), route)
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": verified_session(developer),
          "url": asgi_server}]
    )  # fmt: skip
    page.goto(f"{asgi_server}/messages/")
    badge = _row(page, message.wamid).get_by_test_id("msg-status")
    expect(badge).to_have_text("sent")
    rendered_at = page.locator("body").get_attribute("data-stream-after")
    assert rendered_at is not None and rendered_at.isdigit()
    for _ in range(400):  # let Playwright hand the page's socket to `route`
        if held:
            break
        page.evaluate("() => new Promise(resolve => setTimeout(resolve, 25))")
    assert len(held) == 1
    expect(page.get_by_test_id("stream-state")).not_to_have_text("live")

    actions.do_apply_receipt(number, "live-3", "delivery")  # while the socket is away
    held[0].close()  # the page reconnects, from where it was rendered
    expect(page.get_by_test_id("stream-state")).to_have_text("live", timeout=20_000)
    expect(badge).to_have_text("delivered", timeout=20_000)


def test_a_status_that_moves_while_a_new_row_is_fetched_is_applied_to_it(
    page: Page, asgi_server: str, celery_worker: None, factory: Any
) -> None:
    """A new message's row is read from the server; a status that commits after that read
    but arrives before the row is in the table still reaches the row."""
    business = factory.business()
    developer = factory.staff(business, "developer")
    number = _number(business)
    held: list[tuple[Any, Any]] = []

    def route(request: Any) -> None:
        if held:
            request.continue_()
        else:
            held.append((request, request.fetch()))  # read now, handed to the page later

    problems = _open(page, asgi_server, developer, "/messages/")
    page.route(re.compile(r"/messages/[^?]+\?part=row"), route)
    first = actions.do_send_message(number, CUSTOMER, Text("first"), deliver=False)
    for _ in range(400):  # the page asks for the new row; `route` holds the answer
        if held:
            break
        page.evaluate("() => new Promise(resolve => setTimeout(resolve, 25))")
    assert len(held) == 1
    actions.do_record_sent_envelope(first.pk, "live-4", 1)
    # Events reach the page in stream order: once the next message's row is in, the page
    # has had the first one's "sent" while its row was still being fetched.
    second = actions.do_send_message(number, CUSTOMER, Text("second"), deliver=False)
    expect(_row(page, second.wamid)).to_have_count(1, timeout=20_000)
    request, response = held[0]
    request.fulfill(response=response)
    expect(_row(page, first.wamid).get_by_test_id("msg-status")).to_have_text("sent")
    expect(_row(page, first.wamid).locator('[data-stamp="sent"]')).to_be_visible()
    assert problems == []
