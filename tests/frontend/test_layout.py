"""Every console page of every role fits a 390 px phone: nothing is wider than the viewport.

The pages come from the console's URL conf, so a page added later is checked without editing
this file (a new kind of id in a URL asks for an example below)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import pytest
from django.urls import URLPattern
from playwright.sync_api import Page, expect

from billing.actions import do_ingest_facts
from billing.engine import BillingCategory, Channel, Content, Direction, MessageFact, WaCategory
from frontend import urls as console_urls
from parley.accounts.roles import Role
from parley.core import clock
from tests.conftest import ROOT, totp_now
from tests.frontend.test_browser import _password_step

PHONE = {"width": 390, "height": 844}
SCREENSHOTS = ROOT / "var" / "screenshots"

# Query strings that show more of a page than a bare visit does.
STATES = [
    "/billing/?volume=250000&countries=US,IN,BR,DE,GB&categories=marketing&categories=utility",
    "/staff/?q=agent&role=agent&status=inactive",
    "/audit/?page=2",
    "/messages/?status=lost",
    "/no-such-page/",
]


def console_paths(ids: dict[str, int]) -> list[str]:
    """One URL per route of the console; `ids` fills the routes' named groups."""

    def fill(group: re.Match[str]) -> str:
        return str(ids[group.group(1)])

    paths = []
    for route in console_urls.urlpatterns:
        assert isinstance(route, URLPattern)
        pattern = str(route.pattern)
        missing = set(re.findall(r"\(\?P<(\w+)>", pattern)) - set(ids)
        assert not missing, f"give an example id for {missing} of /{pattern}"
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", fill, pattern)
        paths.append("/" + path.lstrip("^").rstrip("$"))
    return paths


def _fact(mid: str, customer: str, at: dt.datetime, **kw: Any) -> MessageFact:
    base: dict[str, Any] = {
        "business_id": "b",
        "agent_id": "support-agent",
        "agent_category": BillingCategory.CONVERSATIONAL,
        "direction": Direction.A2P,
        "content": Content.TEXT,
        "text_bytes": 40,
    }
    return MessageFact(
        message_id=mid, customer=customer, sent_at=at, delivered_at=at, **{**base, **kw}
    )


def _billing_usage(business: Any) -> None:
    """A month with every kind of row the usage table shows, long names included."""
    now = clock.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    facts = []
    for i, customer in enumerate(["+919876500001", "+14155550101", "+5511987650001"]):
        at = start + dt.timedelta(minutes=10 * i)
        facts += [
            _fact(f"p{i}", customer, at, direction=Direction.P2A),
            _fact(f"a{i}", customer, at + dt.timedelta(minutes=1)),
            _fact(f"r{i}", customer, at + dt.timedelta(minutes=2), content=Content.RICH_CARD,
                  agent_category=BillingCategory.NON_CONVERSATIONAL, agent_id="promotions"),
            _fact(f"m{i}", customer, at + dt.timedelta(minutes=3), content=Content.MEDIA,
                  size_bytes=2_000_000, agent_category=BillingCategory.NON_CONVERSATIONAL,
                  agent_id="promotions"),
            _fact(f"w{i}", customer, at + dt.timedelta(minutes=4), channel=Channel.WHATSAPP,
                  template_category=WaCategory.MARKETING),
        ]  # fmt: skip
    do_ingest_facts(business, facts)


def _conversation(number: Any) -> Any:
    """A conversation with a long message, a long word and a failed message."""
    from parley.messaging import actions
    from parley.messaging.content import Text

    customer = "+919876500009"
    actions.do_record_inbound_message(number, customer, Text("Where is my order? " * 20),
                                      envelope_guid="layout-1")  # fmt: skip
    sent = actions.do_send_message(number, customer, Text("x" * 300), deliver=False)
    actions.do_fail_message(sent.pk, 131026, "Message undeliverable: no registered device")
    return sent.conversation


def _template(business: Any) -> Any:
    """A rejected template with a long name, a long body and long examples."""
    from parley.message_templates.actions import do_create_template, do_review_template

    template = do_create_template(
        business,
        name="seasonal_clearance_reminder_for_loyalty_programme_members_" + "x" * 60,
        language="en_US",
        category="MARKETING",
        components=[
            {"type": "BODY", "text": "Hello {{1}}, " + "our biggest sale of the year " * 20 + "!",
             "example": {"body_text": [["Alexandria-" + "long" * 30]]}},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Shop now",
                                             "url": "https://acme.test/" + "a" * 150 + "/{{1}}",
                                             "example": ["https://acme.test/" + "b" * 200]}]},
        ],
    )  # fmt: skip
    return do_review_template(business, template.graph_id, decision="REJECTED", reason="SCAM")


def _webhook_delivery(business: Any) -> Any:
    """A webhook app with a long name and URL, and a dead delivery with a long body, long
    headers and a failed attempt."""
    from parley.webhooks.actions.apps import do_create_app
    from parley.webhooks.models import WebhookAttempt, WebhookDelivery

    app, _ = do_create_app(
        business, "Customer relationship management webhook receiver " + "x" * 40,
        "https://hooks.acme-retail.test/" + "receiver/" * 25 + "?token=" + "t" * 80,
        "verify", ["messages"],
    )  # fmt: skip
    now = clock.now()
    delivery = WebhookDelivery.objects.create(
        app=app, business_id=business.pk, stream_id=1, webhook_id=f"msg_1_{app.app_id}",
        field="messages", event="message.status_changed",
        message_id="wamid.HBgLOTE5ODc2NTAwMDA5FQIAERgSMEYyQTc0QjM0RjBDRkY4NzU4AA",
        body='{"object":"whatsapp_business_account","entry":[' + '{"id":"1"},' * 60 + "{}]}",
        state=WebhookDelivery.DEAD, attempts=1, created_at=now, next_attempt_at=now,
        last_status=500, last_error="HTTP 500 " + "e" * 300,
    )  # fmt: skip
    WebhookAttempt.objects.create(
        delivery=delivery, number=1, url=app.callback_url, started_at=now, latency_ms=3.2,
        request_headers={"X-Hub-Signature-256": "sha256=" + "ab" * 32, "webhook-signature":
                         " ".join(["v1," + "c" * 44] * 2)},
        response_status=500, response_excerpt="<html>" + "Internal error " * 40,
    )  # fmt: skip
    return delivery


def _routing(admin: Any, agent: Any) -> dict[str, int]:
    """Routing's set-up with long names and a session (of the conversation above): the ids
    of the supervision and routing pages."""
    from parley.core.stream.runner import run_consumers
    from routing.actions.agents import do_update_agent
    from routing.actions.setup import (
        do_save_canned_response,
        do_save_queue,
        do_save_rule,
        do_save_sla_policy,
    )
    from routing.models import Session

    policy = do_save_sla_policy(admin, name="Premium customers' first response " + "x" * 40,
                                first_response_s=30)  # fmt: skip
    queue = do_save_queue(admin, name="Priority customers in the north-eastern region " + "y" * 30,
                          skills={"billing-and-refunds-" + "z" * 19: 3}, sla_policy_id=policy.pk,
                          is_default=True)  # fmt: skip
    rule = do_save_rule(admin, kind="keyword", value="refund" * 16, queue_id=queue.pk)
    canned = do_save_canned_response(admin, shortcut="thanks-" + "t" * 30, text="Thanks " * 500)
    team = "North-eastern escalations " + "w" * 50
    do_update_agent(admin, agent, capacity=20, skills={"billing": 4}, languages=["en"], team=team)
    # The live worker runs the routing consumer too: when it holds the consumer, this run
    # passes it by, and the session appears once the worker's round commits.
    deadline = time.monotonic() + 60
    while (session := Session.objects.filter(business_id=admin.business_id).first()) is None:
        assert time.monotonic() < deadline, "no routing session for the conversation"
        run_consumers(max_seconds=5, names=["routing"])
    return {"queue_id": queue.pk, "policy_id": policy.pk, "rule_id": rule.pk,
            "canned_id": canned.pk, "agent_user_id": agent.pk,
            "session_id": session.pk}  # fmt: skip


def _archive(business: Any, number: Any, conversation: Any) -> dict[str, int]:
    """The compliance archive with long values: records of the conversation above in a
    closed file, a legal hold, a finished export and a verification report (the ids of the
    compliance pages)."""
    from archive.actions.capture import do_capture
    from archive.actions.exports import do_request_export, do_run_export
    from archive.actions.files import do_roll_files, do_sign_digests
    from archive.actions.holds import do_place_hold
    from archive.actions.verify import do_verify_archive
    from archive.models import ArchiveRecord
    from archive.selectors import Criteria
    from parley.core.events import MessageReceived
    from parley.messaging.content import Text

    officer = business.staff.filter(role="compliance_officer").first() or business.staff.first()
    now = clock.now()
    text = "Where is my order? " * 30 + "x" * 120
    do_capture(
        [
            MessageReceived(
                business_id=business.pk, occurred_at=now, message_id=f"wamid.layout-{i}",
                conversation_id=conversation.pk, number_id=number.pk,
                customer=conversation.customer, content_type="text",
                content_json=json.dumps(Text(text).to_dict()), text=text,
            )
            for i in range(3)
        ],
        now=now,
    )  # fmt: skip
    do_roll_files(force=True, now=now)
    do_sign_digests(now=now)
    criteria = Criteria(customer=conversation.customer, q=("Where is my order? " * 8).strip())
    hold = do_place_hold(business.pk, name="Litigation hold for the north-eastern region " * 2,
                         criteria=criteria, reason="Regulator's request " * 20,
                         actor=officer)  # fmt: skip
    export = do_request_export(business.pk, criteria=criteria, format="wacz", actor=officer)
    do_run_export(export.pk)
    do_verify_archive(business.pk, requested_by=officer)
    record = ArchiveRecord.objects.filter(business_id=business.pk).order_by("pk").first()
    assert record is not None
    return {"record_id": record.pk, "hold_id": hold.pk, "export_id": export.pk}


def _fits(page: Page, path: str) -> str | None:
    """None when the page is no wider than the viewport, else what overflows."""
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth,"
        " [...document.querySelectorAll('body *')]"
        "   .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)"
        "   .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className)]"
    )
    scroll, inner, culprits = widths
    if scroll <= inner:
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"too-wide{path.replace('/', '-').split('?')[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    return f"{path}: {scroll} px wide in {inner} px ({', '.join(culprits)}); see {shot.name}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", list(Role))
def test_every_console_page_fits_a_phone(
    role: Role, browser: Any, asgi_server: str, factory: Any, console: Any
) -> None:
    business = factory.business("Acme")
    business.name = "Acme Retail International Holdings"
    business.save()
    admin = factory.staff(business, "administrator", email="administrator@acme-retail.test")
    user = admin
    if role != Role.ADMINISTRATOR:
        user = factory.staff(business, role.value, email=f"{role.value}@acme-retail.test")
    for i in range(60):
        factory.staff(business, "agent", enrolled=False, email=f"agent{i:02d}@acme-retail.test")
    number = console.number(admin, "Acme Retail International Customer Care")
    token = console.token(admin, "Customer relationship management nightly sync")
    _billing_usage(business)
    conversation = _conversation(number)
    template = _template(business)
    delivery = _webhook_delivery(business)
    routing_ids = _routing(admin, factory.staff(business, "agent", enrolled=False))
    if role != Role.COMPLIANCE_OFFICER:
        factory.staff(business, "compliance_officer", enrolled=False)
    archive_ids = _archive(business, number, conversation)

    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        _password_step(page, asgi_server, user)
        expect(page).to_have_url(re.compile(r"/login/verify/"))
        problems = [p for p in [_fits(page, "/login/verify/")] if p]
        page.fill("input[name=code]", totp_now(user))
        page.click("button[type=submit]")
        expect(page.get_by_test_id("who")).to_be_visible()
        device = user.devices.get()  # this browser, trusted by the login
        ids = {"number_id": number.pk, "token_id": token.token.pk, "device_id": device.pk,
               "conversation_id": conversation.pk, "template_id": template.graph_id,
               "wamid": conversation.messages.order_by("-id").first().wamid,
               "app_id": delivery.app.app_id, "delivery_id": delivery.pk,
               # A simulated customer's page (none here: its not-found page fits too).
               "phone_number": "+919876500009", **routing_ids, **archive_ids}  # fmt: skip
        paths = console_paths(ids) + STATES
        nav = page.get_by_role("navigation", name="Console sections").get_by_role("link")
        sections = {str(a.get_attribute("href")) for a in nav.all()}
        opened: set[str] = set()
        for path in paths:
            # Routes that answer GET with no page (POST-only actions, downloads) are skipped.
            probe = page.request.get(f"{asgi_server}{path}")
            if probe.status == 405 or not probe.headers["content-type"].startswith("text/html"):
                continue
            response = page.goto(f"{asgi_server}{path}")
            assert response is not None, path
            if response.status == 200:
                opened.add(path)
            problem = _fits(page, path)
            if problem:
                problems.append(problem)
        assert sections and sections <= opened, f"{role}: sections not opened: {sections - opened}"
        assert not problems, "\n".join(problems)
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_and_enrolment_pages_fit_a_phone(
    browser: Any, asgi_server: str, factory: Any
) -> None:
    user = factory.staff(factory.business(), "agent", enrolled=False)
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{asgi_server}/login/")
        problems = [_fits(page, "/login/")]
        _password_step(page, asgi_server, user)
        expect(page.get_by_test_id("totp-secret")).to_be_visible()
        problems.append(_fits(page, "/login/enrol/"))
        assert not [p for p in problems if p], problems
    finally:
        context.close()


def test_favicon_is_served(client: Any) -> None:
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.lstrip().startswith(b"<svg") and b"<script" not in body
    # Pages name it too, so browsers need not guess.
    assert (
        '<link rel="icon" href="/static/frontend/favicon.svg"'
        in client.get("/login/").content.decode()
    )
