"""The developers' Messages page: the log of every message with its status and price, its
filters, and one message's timeline with billing and stream events, by role and tenant."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from billing.actions import do_ingest_facts
from billing.listeners import fact_from_event
from billing.models import BillableEventRecord
from parley.accounts.models import Business, PhoneNumber
from parley.core import clock
from parley.core.events import DeliveryRecorded
from parley.core.models import StreamEntry
from parley.core.stream import log as stream_log
from parley.messaging import actions, selectors
from parley.messaging.content import Template, Text
from parley.messaging.models import Message
from tests.frontend.helpers import by_testid, field_error

pytestmark = pytest.mark.django_db

ALICE = "+919876500011"
BOB = "+919876500022"
_numbers = itertools.count(100)
T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def _number(business: Business, name: str) -> PhoneNumber:
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+1415556{next(_numbers) % 10000:04d}",
        country="US",
        display_name=name,
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


def rate_deliveries(business: Business) -> None:
    """What billing's stream consumer and rating task do, here and now: record the facts
    of every delivery the stream holds and rate them."""
    rows = StreamEntry.objects.filter(business_id=business.pk, name=DeliveryRecorded.name)
    facts = []
    for row in rows.order_by("id"):
        event = stream_log.to_event(row)
        assert isinstance(event, DeliveryRecorded)
        facts.append(fact_from_event(event))
    do_ingest_facts(business, facts)


@dataclass
class Log:
    business: Business
    support: PhoneNumber
    sales: PhoneNumber
    inbound: Message  # 09:00 Alice → support, "where is my order?"
    read: Message  # 09:05 support → Alice, sent, delivered, read
    failed: Message  # 09:10 sales → Bob, failed 131026
    promo: Message  # 09:15 sales → Bob, a marketing template, delivered (charged)
    pending: Message  # 09:20 support → Alice, accepted, replying to `inbound`


@pytest.fixture
def log(factory: Any) -> Log:
    business = factory.business("Shop")
    support, sales = _number(business, "Support"), _number(business, "Sales")
    with clock.frozen(T0) as c:
        inbound = actions.do_record_inbound_message(
            support, ALICE, Text("where is my order?"), envelope_guid="in-1"
        )
        c.set(T0 + dt.timedelta(minutes=5))
        read = actions.do_send_message(support, ALICE, Text("on its way"), deliver=False)
        actions.do_record_sent_envelope(read.pk, "out-1", 1)
        actions.do_apply_receipt(support, "out-1", "delivery", at=T0 + dt.timedelta(minutes=6))
        actions.do_apply_receipt(support, "out-1", "read", at=T0 + dt.timedelta(minutes=7))
        c.set(T0 + dt.timedelta(minutes=10))
        failed = actions.do_send_message(sales, BOB, Text("hello there"), deliver=False)
        actions.do_fail_message(failed.pk, 131026, "Message undeliverable")
        c.set(T0 + dt.timedelta(minutes=15))
        promo = actions.do_send_message(
            sales, BOB, Template("spring_sale", "en", "marketing"), deliver=False
        )
        actions.do_record_sent_envelope(promo.pk, "out-2", 1)
        actions.do_apply_receipt(sales, "out-2", "delivery")
        c.set(T0 + dt.timedelta(minutes=20))
        pending = actions.do_send_message(
            support, ALICE, Text("anything else?"), reply_to=inbound.wamid, deliver=False
        )
        rate_deliveries(business)
    return Log(business, support, sales, *(
        Message.objects.get(pk=m.pk) for m in (inbound, read, failed, promo, pending)
    ))  # fmt: skip


def _wamids(page: str) -> list[str]:
    return [html.unescape(w) for w in re.findall(r'<tr data-wamid="([^"]+)"', page)]


def _get(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return str(response.content.decode())


def _charge(message: Message) -> BillableEventRecord:
    return BillableEventRecord.objects.get(message_ids__contains=message.wamid)


def test_the_log_lists_every_message_newest_first_with_status_error_and_price(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    page = _get(client, "/messages/")
    assert 'href="/messages/" aria-current="page"' in page  # in the navigation
    assert _wamids(page) == [m.wamid for m in (log.pending, log.promo, log.failed, log.read,
                                               log.inbound)]  # fmt: skip
    assert by_testid(page, "msg-status") == ["accepted", "delivered", "failed", "read", "received"]
    assert by_testid(page, "msg-direction") == ["→ out", "→ out", "→ out", "→ out", "← in"]
    assert by_testid(page, "msg-type") == ["text", "template", "text", "text", "text"]
    assert by_testid(page, "msg-time")[0] == "2026-04-01 09:20:00"
    assert by_testid(page, "msg-error") == ["131026 Message undeliverable"]
    assert "where is my order?" in page and "[template spring_sale]" in page
    assert "read 09:07:00" in page and "delivered 09:06:00" in page
    # Billing rated the marketing template as chargeable; the page shows its price as rated.
    promo = _charge(log.promo)
    assert promo.chargeable and promo.whatsapp_category == "marketing" and promo.unit_price > 0
    prices = by_testid(page, "msg-price")
    assert prices[1] == f"{promo.unit_price * promo.quantity:.4f} {promo.currency}"
    assert prices[0] == "" and prices[2] == ""  # not rated: the dash (inside a span)
    assert "—" in page.split(f'data-wamid="{log.failed.wamid}"')[1].split("</tr>")[0]
    service = _charge(log.read)
    assert not service.chargeable
    assert prices[3] == "free"


def test_each_filter_narrows_the_log(log: Log, factory: Any, console_client: Any) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    by = {
        f"number={log.sales.pk}": [log.promo, log.failed],
        f"number={log.support.pk}": [log.pending, log.read, log.inbound],
        "direction=inbound": [log.inbound],
        "direction=outbound": [log.pending, log.promo, log.failed, log.read],
        "status=failed": [log.failed],
        "status=delivered": [log.promo],
        f"customer={quote(BOB)}": [log.promo, log.failed],
        "customer=919876500011": [log.pending, log.read, log.inbound],  # normalised to E.164
        "since=2026-04-01T09:10": [log.pending, log.promo, log.failed],
        "until=2026-04-01T09:10": [log.read, log.inbound],
        "since=2026-04-01+09:05&until=2026-04-01+09:15": [log.failed, log.read],
        f"number={log.support.pk}&direction=outbound&status=read": [log.read],
        "since=2026-04-02": [],
    }
    for query, expected in by.items():
        page = _get(client, f"/messages/?{query}")
        assert _wamids(page) == [m.wamid for m in expected], query
    assert "No message matches these filters." in _get(client, "/messages/?since=2026-04-02")


def test_the_wamid_search_finds_one_message_and_an_unknown_one_shows_none(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    page = _get(client, f"/messages/?wamid={quote(log.failed.wamid)}")
    assert _wamids(page) == [log.failed.wamid]
    # Found by wamid whatever else the form says.
    page = _get(client, f"/messages/?wamid={quote(log.failed.wamid)}&number={log.support.pk}")
    assert _wamids(page) == [log.failed.wamid]
    unknown = _get(client, "/messages/?wamid=wamid.HBgMOTE5ODc2NTAwMDExFQIAEhgSNoSuchThing")
    assert _wamids(unknown) == []
    assert "No message with the wamid" in unknown
    assert "wamid.HBgMOTE5ODc2NTAwMDExFQIAEhgSNoSuchThing" in unknown
    # Another business's message is not found either.
    other = factory.business("Other")
    theirs = actions.do_send_message(_number(other, "Theirs"), BOB, Text("x"), deliver=False)
    assert _wamids(_get(client, f"/messages/?wamid={quote(theirs.wamid)}")) == []


def test_bad_filters_show_form_errors_never_a_500(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    other_number = _number(factory.business("Other"), "Theirs")
    cases = {
        "number=abc": "number",
        f"number={other_number.pk}": "number",  # another business's number
        "number=99999999999999999999999": "number",
        "direction=sideways": "direction",
        "status=lost": "status",
        "customer=not-a-number": "customer",
        "since=yesterday": "since",
        "until=2026-13-45T99:99": "until",
        "since=2026-04-02&until=2026-04-01": "until",
        "wamid=" + "w" * 129: "wamid",
    }
    for query, field in cases.items():
        response = client.get(f"/messages/?{query}")
        assert response.status_code == 400, query
        page = response.content.decode()
        assert field_error(page, field).strip(), query
        assert _wamids(page) == [], query
    assert "after its start" in field_error(
        _get(client, "/messages/?since=2026-04-02&until=2026-04-01", 400), "until"
    )
    # A page number out of range is the last page, not an error.
    assert _wamids(_get(client, "/messages/?page=999")) == _wamids(_get(client, "/messages/"))
    assert _wamids(_get(client, "/messages/?page=x")) == _wamids(_get(client, "/messages/"))


def test_the_log_is_paged(factory: Any, console_client: Any) -> None:
    business = factory.business("Busy")
    number = _number(business, "Busy")
    with clock.frozen(T0) as c:
        for i in range(53):
            c.set(T0 + dt.timedelta(seconds=i))
            actions.do_send_message(number, ALICE, Text(f"n{i}"), deliver=False)
    client = console_client.as_(factory.staff(business, "developer"))
    first = _get(client, "/messages/")
    assert len(_wamids(first)) == 50 and "Page 1 of 2" in first
    second = _get(client, "/messages/?page=2")
    assert len(_wamids(second)) == 3 and not set(_wamids(first)) & set(_wamids(second))
    assert "n0" in second and "n52" in first


def test_the_timeline_shows_each_stamp_the_charge_and_the_stream_events(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    page = _get(client, f"/messages/{log.read.wamid}/")
    steps = ("accepted", "sent", "delivered", "read", "failed", "expired")
    stamps = [by_testid(page, f"stamp-{s}")[0] for s in steps]
    assert stamps == ["2026-04-01 09:05:00", "2026-04-01 09:05:00", "2026-04-01 09:06:00",
                      "2026-04-01 09:07:00", "", ""]  # fmt: skip
    assert by_testid(page, "msg-status") == ["read"]
    assert "on its way" in page
    service = _charge(log.read)
    assert by_testid(page, "charge-category") == [service.whatsapp_category] == ["service"]
    assert by_testid(page, "charge-billable") == ["no"]
    assert by_testid(page, "charge-price") == [f"{service.unit_price:.4f} {service.currency}"]
    # The stream's events about it: accepted, sent, delivered (and billing's fact), read.
    events = re.findall(r"<td><code>([a-z_.]+)</code></td>", page)
    assert events == ["message.status_changed", "message.status_changed",
                      "message.status_changed", "message.delivery_recorded",
                      "message.status_changed"]  # fmt: skip
    assert "previous_status</span> delivered" in page
    # The conversation and its window: Alice wrote at 09:00, so it is open until 09:00 next day.
    with clock.frozen(T0 + dt.timedelta(hours=1)):
        page = _get(client, f"/messages/{log.read.wamid}/")
    assert by_testid(page, "window") == ["Service window open until 2026-04-02 09:00:00 UTC"]
    with clock.frozen(T0 + dt.timedelta(hours=25)):
        page = _get(client, f"/messages/{log.read.wamid}/")
    assert by_testid(page, "window")[0].startswith("Service window closed")

    promo = _get(client, f"/messages/{quote(log.promo.wamid, safe='/')}/")
    charge = _charge(log.promo)
    assert by_testid(promo, "charge-category") == ["marketing"]
    assert by_testid(promo, "charge-billable") == ["yes"]
    assert by_testid(promo, "charge-price") == [f"{charge.unit_price:.4f} {charge.currency}"]

    failed = _get(client, f"/messages/{quote(log.failed.wamid, safe='/')}/")
    assert by_testid(failed, "stamp-failed") == ["2026-04-01 09:10:00"]
    assert by_testid(failed, "detail-failed") == ["131026 Message undeliverable"]
    assert by_testid(failed, "no-charge") != [] and 'data-testid="charges"' not in failed
    assert "error_code</span> 131026" in failed


def test_the_timeline_links_the_message_it_replies_to(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "developer"))
    page = _get(client, f"/messages/{quote(log.pending.wamid, safe='/')}/")
    assert f'href="/messages/{quote(log.inbound.wamid, safe="/")}/"' in page
    assert by_testid(page, "stamp-accepted") == ["2026-04-01 09:20:00"]
    assert by_testid(page, "stamp-sent") == [""]  # not yet: a dash
    inbound = _get(client, f"/messages/{quote(log.inbound.wamid, safe='/')}/")
    assert by_testid(inbound, "stamp-received") == ["2026-04-01 09:00:00"]
    assert "Not a reply." in inbound
    # An inbound message's event carries its text: shown to readers only.
    assert "message.received" in inbound and "text</span> where is my order?" in inbound


def test_another_tenants_wamid_is_a_404_like_an_unknown_one(
    log: Log, factory: Any, console_client: Any
) -> None:
    stranger = console_client.as_(factory.staff(factory.business("Other"), "developer"))
    theirs = stranger.get(f"/messages/{quote(log.read.wamid, safe='/')}/")
    unknown = stranger.get("/messages/wamid.NoSuchMessageAtAll/")
    assert theirs.status_code == unknown.status_code == 404
    assert b"on its way" not in theirs.content and log.read.wamid.encode() not in theirs.content
    row = stranger.get(f"/messages/{quote(log.read.wamid, safe='/')}/?part=row")
    assert row.status_code == 404
    assert _wamids(_get(stranger, "/messages/")) == []
    assert selectors.get_business_message(log.business, log.read.wamid) is not None


@pytest.mark.parametrize("role", ["agent", "supervisor", "compliance_officer"])
def test_roles_without_the_message_log_are_refused(
    log: Log, factory: Any, console_client: Any, role: str
) -> None:
    client = console_client.as_(factory.staff(log.business, role))
    assert 'href="/messages/"' not in _get(client, "/")
    for url in ("/messages/", f"/messages/{quote(log.read.wamid, safe='/')}/"):
        response = client.get(url)
        assert response.status_code == 403 and b"on its way" not in response.content


def test_administrators_see_statuses_and_prices_but_no_text(
    log: Log, factory: Any, console_client: Any
) -> None:
    client = console_client.as_(factory.staff(log.business, "administrator"))
    page = _get(client, "/messages/")
    assert _wamids(page) == [m.wamid for m in (log.pending, log.promo, log.failed, log.read,
                                               log.inbound)]  # fmt: skip
    assert by_testid(page, "msg-status") == ["accepted", "delivered", "failed", "read", "received"]
    assert by_testid(page, "msg-error") == ["131026 Message undeliverable"]
    promo = _charge(log.promo)
    assert f"{promo.unit_price * promo.quantity:.4f} {promo.currency}" in page
    assert by_testid(page, "no-text") != [] and by_testid(page, "msg-preview") == []
    for text in ("where is my order?", "on its way", "hello there", "anything else?",
                 "spring_sale"):  # fmt: skip
        assert text not in page
    inbound = _get(client, f"/messages/{quote(log.inbound.wamid, safe='/')}/")
    assert by_testid(inbound, "stamp-received") == ["2026-04-01 09:00:00"]
    assert "message.received" in inbound  # the event is listed, without its content
    assert "where is my order?" not in inbound and "content_json" not in inbound
    row = _get(client, f"/messages/{quote(log.inbound.wamid, safe='/')}/?part=row")
    assert "where is my order?" not in row and "received" in row


def test_an_answer_to_an_ad_is_rated_free_and_the_timeline_says_why(
    factory: Any, console_client: Any
) -> None:
    from parley.messaging.content import Referral

    business = factory.business("Ads")
    number = _number(business, "Ads")
    ad = Referral(source_url="https://fb.me/ad7", source_id="7", headline="Spring sale")
    with clock.frozen(T0) as c:
        actions.do_record_inbound_message(number, ALICE, Text("Is the sale on?", referral=ad),
                                          envelope_guid="ad-in")  # fmt: skip
        c.set(T0 + dt.timedelta(hours=2))
        answer = actions.do_send_message(
            number, ALICE, Template("spring_sale", "en", "marketing"), deliver=False
        )
        actions.do_record_sent_envelope(answer.pk, "ad-out", 1)
        actions.do_apply_receipt(number, "ad-out", "delivery")
        c.set(T0 + dt.timedelta(hours=80))  # after the 72 h: charged again
        later = actions.do_send_message(
            number, ALICE, Template("spring_sale", "en", "marketing"), deliver=False
        )
        actions.do_record_sent_envelope(later.pk, "ad-out-2", 1)
        actions.do_apply_receipt(number, "ad-out-2", "delivery")
        rate_deliveries(business)
    free, charged = _charge(answer), _charge(later)
    assert (free.chargeable, free.reason) == (False, "free: free entry point window (72 h)")
    assert charged.chargeable and charged.reason == "chargeable: marketing template"

    client = console_client.as_(factory.staff(business, "developer"))
    page = _get(client, f"/messages/{quote(answer.wamid, safe='/')}/")
    assert by_testid(page, "charge-billable") == ["no"]
    assert "free: free entry point window (72 h)" in page
    assert by_testid(page, "free-entry")[0].endswith("until 2026-04-04 11:00:00 UTC.")
    assert by_testid(_get(client, f"/messages/{quote(later.wamid, safe='/')}/"),
                     "free-entry") == []  # fmt: skip
