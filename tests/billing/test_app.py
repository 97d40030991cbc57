"""The billing app: facts persisted and rated, priced at the business's card, reported,
invoiced, estimated, and served to administrators and developers only."""

import csv
import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from billing.actions import (
    do_create_agent,
    do_finalise_events,
    do_ingest_facts,
    do_rate,
    do_record_facts,
)
from billing.engine import BillingCategory, Content, Direction, MessageFact
from billing.facts_io import fact_to_json
from billing.models import BillableEventRecord, BillingAgent, MessageFactRecord
from billing.reports import do_write_daily_reports
from billing.selectors import get_invoice
from parley.accounts.actions.tokens import do_create_api_token
from parley.core.errors import Conflict, InvalidParameter
from parley.core.events import DeliveryRecorded
from parley.core.publish import publish
from tests.conftest import verified_session

pytestmark = pytest.mark.django_db
UTC = dt.UTC
T0 = dt.datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
IN_CUSTOMER = "+919876543210"
US_CUSTOMER = "+14155550188"


def fact(mid: str, direction: Direction, at: dt.datetime, *, customer: str = IN_CUSTOMER,
         agent: str = "agent-1", category: BillingCategory = BillingCategory.CONVERSATIONAL,
         content: Content = Content.TEXT, text_bytes: int = 40,
         delivered: dt.datetime | str | None = "same") -> MessageFact:  # fmt: skip
    return MessageFact(
        message_id=mid,
        business_id="b",
        agent_id=agent,
        agent_category=category,
        customer=customer,
        direction=direction,
        content=content,
        sent_at=at,
        delivered_at=at + dt.timedelta(seconds=2) if delivered == "same" else delivered,  # type: ignore[arg-type]
        text_bytes=text_bytes,
    )


@pytest.fixture
def business(factory):
    return factory.business()


def conversation() -> list[MessageFact]:
    """Two A2P messages, then a reply within 24 h: only the last A2P opens the conversation."""
    return [
        fact("m1", Direction.A2P, T0),
        fact("m2", Direction.A2P, T0 + dt.timedelta(minutes=30)),
        fact("m3", Direction.P2A, T0 + dt.timedelta(hours=3)),  # 1 July: the reply
        fact("m4", Direction.A2P, T0 + dt.timedelta(hours=4)),
    ]


def test_rated_events_are_persisted_and_priced(business, frozen_clock) -> None:
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
    stats = do_ingest_facts(business, conversation())
    assert stats.delivered == 4
    events = {e.event_type: e for e in BillableEventRecord.objects.filter(business=business)}
    assert set(events) == {"basic_message", "a2p_conversation"}
    convo = events["a2p_conversation"]
    assert convo.message_ids.split() == ["m2", "m3", "m4"]
    assert (convo.mt_messages, convo.mo_messages) == (2, 1)
    assert convo.unit_price == Decimal("0.0120")  # India, default card
    assert convo.status == "final"
    assert events["basic_message"].message_ids == "m1"
    # m1 was delivered on 30 June, the conversation opened on 30 June too (m2).
    assert events["basic_message"].period == "2026-06"


def test_rerating_is_idempotent(business, frozen_clock) -> None:
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
    do_ingest_facts(business, conversation())
    first = sorted(BillableEventRecord.objects.values_list("event_id", "event_type", "message_ids"))
    do_record_facts(business, list(reversed(conversation())))
    do_rate(business)
    do_rate(business)
    again = sorted(BillableEventRecord.objects.values_list("event_id", "event_type", "message_ids"))
    assert first == again
    assert MessageFactRecord.objects.count() == 4


def test_delivery_month_decides_the_invoice(business, frozen_clock) -> None:
    frozen_clock.set(dt.datetime(2026, 8, 10, tzinfo=UTC))
    sent = dt.datetime(2026, 6, 30, 23, 59, tzinfo=UTC)
    late = fact("late", Direction.A2P, sent, delivered=dt.datetime(2026, 7, 1, 0, 5, tzinfo=UTC))
    do_ingest_facts(business, [late])
    assert get_invoice(business.pk, "2026-06").lines == ()
    july = get_invoice(business.pk, "2026-07")
    assert [(ln.item, ln.events, ln.total) for ln in july.lines] == [
        ("basic_message", 1, Decimal("0.0020"))
    ]
    assert july.lines[0].unit_price == Decimal("0.0020")
    assert july.totals == {"USD": Decimal("0.00")}


def test_expired_messages_are_never_billed(business, frozen_clock) -> None:
    frozen_clock.set(dt.datetime(2026, 9, 1, tzinfo=UTC))
    lost = fact("lost", Direction.A2P, T0, delivered=None)
    stats = do_ingest_facts(business, [lost])
    assert stats.expired == 1
    assert not BillableEventRecord.objects.exists()


def test_pending_then_delivered_updates_the_fact(business, frozen_clock) -> None:
    frozen_clock.set(T0 + dt.timedelta(hours=1))
    do_ingest_facts(business, [fact("p", Direction.A2P, T0, delivered=None)])
    assert not BillableEventRecord.objects.exists()
    do_ingest_facts(business, [fact("p", Direction.A2P, T0)])
    assert BillableEventRecord.objects.get().message_ids == "p"


def test_conversations_stay_provisional_for_two_days(business, frozen_clock) -> None:
    frozen_clock.set(T0 + dt.timedelta(hours=5))
    do_ingest_facts(business, conversation())
    convo = BillableEventRecord.objects.get(event_type="a2p_conversation")
    assert convo.status == "provisional"
    assert do_finalise_events() == 0
    frozen_clock.set(convo.final_at)
    assert do_finalise_events() >= 1
    convo.refresh_from_db()
    assert convo.status == "final"


def test_agent_category_is_fixed(business, frozen_clock) -> None:
    agent = do_create_agent(
        business, agent_id="rbm-1", display_name="Support", billing_category="basic_message"
    )
    assert agent.billing_category == "NON_CONVERSATIONAL"
    assert agent.legacy_category == "BASIC_MESSAGE"
    with pytest.raises(Conflict):
        do_create_agent(
            business, agent_id="rbm-1", display_name="x", billing_category="CONVERSATIONAL"
        )
    with pytest.raises(InvalidParameter):
        do_create_agent(business, agent_id="rbm-2", display_name="x", billing_category="PREMIUM")
    # Facts claiming another category for the agent are refused, nothing recorded.
    wrong = fact("w", Direction.A2P, T0, agent="rbm-1", category=BillingCategory.CONVERSATIONAL)
    with pytest.raises(InvalidParameter, match="cannot change"):
        do_record_facts(business, [wrong])
    assert not MessageFactRecord.objects.exists()
    agent.billing_category = "CONVERSATIONAL"
    with pytest.raises(TypeError):
        agent.save()


def _write_facts(tmp_path: Path, facts: list[MessageFact], extra: str = "") -> Path:
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(json.dumps(fact_to_json(f)) for f in facts) + "\n" + extra)
    return path


def test_facts_file_command(business, tmp_path, frozen_clock, capsys) -> None:
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
    call_command("load_billing_facts", business.slug, str(_write_facts(tmp_path, conversation())))
    assert "2 billable events" in capsys.readouterr().out
    assert BillableEventRecord.objects.count() == 2


def test_a_bad_facts_file_loads_nothing(business, tmp_path) -> None:
    path = _write_facts(tmp_path, conversation(), extra='{"message_id": "x"}\n')
    with pytest.raises(CommandError, match="line 5: missing field"):
        call_command("load_billing_facts", business.slug, str(path))
    assert not MessageFactRecord.objects.exists()
    assert not BillableEventRecord.objects.exists()


def test_rate_changes_apply_from_their_date(business, tmp_path, frozen_clock, factory) -> None:
    frozen_clock.set(dt.datetime(2026, 8, 10, tzinfo=UTC))
    card = tmp_path / "card.csv"
    card.write_text(
        "country,item,currency,unit_price,effective_from\n"
        "IN,basic_message,USD,0.0020,2026-01-01\n"
        "IN,basic_message,USD,0.0030,2026-07-01\n"
    )
    call_command("load_rate_card", business.slug, str(card))
    do_ingest_facts(business, [
        fact("june", Direction.A2P, dt.datetime(2026, 6, 15, tzinfo=UTC)),
        fact("july", Direction.A2P, dt.datetime(2026, 7, 15, tzinfo=UTC), customer="+919876500000"),
    ])  # fmt: skip
    prices = dict(BillableEventRecord.objects.values_list("message_ids", "unit_price"))
    assert prices == {"june": Decimal("0.0020"), "july": Decimal("0.0030")}
    card.write_text("country,item,currency,unit_price,effective_from\nIN,x,USD,-1,2026-01-01\n")
    with pytest.raises(CommandError):
        call_command("load_rate_card", business.slug, str(card))


def test_daily_reports_are_written_as_csv(business, frozen_clock, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
    emoji = "👋" * 50  # 200 UTF-8 bytes: two US segments
    do_ingest_facts(business, [
        *conversation(),
        fact("us1", Direction.A2P, dt.datetime(2026, 7, 1, 9, tzinfo=UTC), customer=US_CUSTOMER,
             text_bytes=len(emoji.encode())),
    ])  # fmt: skip
    reports = {r.kind: r for r in do_write_daily_reports(business, dt.date(2026, 7, 1))}
    us_rows = list(csv.DictReader((tmp_path / reports["billing_events_us"].path).open()))
    assert us_rows[0]["type"] == "a2p_rich_message"
    assert us_rows[0]["segment_count"] == "2"
    activity = list(csv.DictReader((tmp_path / reports["activity_log"].path).open()))
    assert {row["message_id"] for row in activity} == {"us1"}
    june = {r.kind: r for r in do_write_daily_reports(business, dt.date(2026, 6, 30))}
    rows = list(csv.DictReader((tmp_path / june["billing_events"].path).open()))
    assert {r["type"] for r in rows} == {"basic_message", "a2p_conversation"}
    assert list(rows[0]) == [
        "billing_event_id", "type", "agent_id", "start_time", "duration", "mt_messages",
        "mo_messages", "size_kilobytes", "country", "status",
    ]  # fmt: skip


class TestApi:
    @pytest.fixture
    def staff(self, business, factory):
        roles = ("administrator", "developer", "agent", "supervisor", "compliance_officer")
        return {role: factory.staff(business, role) for role in roles}

    def _get(self, client: Any, user: Any, path: str) -> Any:
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(user)
        return client.get(path)

    def test_roles(self, client, staff, business, frozen_clock) -> None:
        frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
        do_ingest_facts(business, conversation())
        for role, user in staff.items():
            response = self._get(client, user, "/parley/v1/billing/invoices/2026-06")
            expected = 200 if role in ("administrator", "developer") else 403
            assert response.status_code == expected, role
        body = self._get(client, staff["developer"], "/parley/v1/billing/invoices/2026-06").json()
        assert body["totals"] == {"USD": "0.01"}  # 0.0020 + 0.0120 = 0.014 → rounded per line
        assert [ln["item"] for ln in body["lines"]] == ["a2p_conversation", "basic_message"]

    def test_tokens_and_isolation(self, client, staff, business, factory, frozen_clock) -> None:
        frozen_clock.set(dt.datetime(2026, 7, 10, tzinfo=UTC))
        do_ingest_facts(business, conversation())
        other = factory.business("Other")
        secret = do_create_api_token(factory.staff(other, "developer"), name="x").secret
        response = client.get("/parley/v1/billing/events?period=2026-06",
                              HTTP_AUTHORIZATION=f"Bearer {secret}")  # fmt: skip
        assert response.status_code == 200
        assert response.json()["results"] == []
        mine = do_create_api_token(staff["developer"], name="y").secret
        response = client.get("/parley/v1/billing/events?period=2026-06",
                              HTTP_AUTHORIZATION=f"Bearer {mine}")  # fmt: skip
        assert len(response.json()["results"]) == 2
        bad = client.get(
            "/parley/v1/billing/usage?period=2026-13", HTTP_AUTHORIZATION=f"Bearer {mine}"
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == 100
        assert client.get("/parley/v1/billing/usage").status_code == 401

    def test_estimate_against_sms(self, client, staff) -> None:
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(staff["administrator"])
        body = {"volume": 1000, "countries": ["US", "IN"], "categories": ["marketing"]}
        response = client.post(
            "/parley/v1/billing/estimates", body, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        data = response.json()
        assert data["total"] == "13.00"  # 1000 x 0.0085 + 1000 x 0.0045
        assert data["sms_total"] == "100.00"
        assert Decimal(data["savings"]) == Decimal("87.00")
        body = {"volume": -1, "countries": ["US"], "categories": ["marketing"]}
        bad = client.post("/parley/v1/billing/estimates", body, content_type="application/json")
        assert bad.status_code == 400

    def test_agents_endpoint_refuses_category_changes(self, client, staff, frozen_clock) -> None:
        frozen_clock.set(dt.datetime(2026, 1, 10, tzinfo=UTC))
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(staff["administrator"])
        created = client.post("/parley/v1/billing/agents",
                              {"agent_id": "rbm", "billing_category": "SINGLE_MESSAGE"},
                              content_type="application/json")  # fmt: skip
        assert created.status_code == 201
        assert created.json()["billing_category"] == "SINGLE_MESSAGE"  # legacy, before 2026-02-18
        frozen_clock.set(dt.datetime(2026, 3, 1, tzinfo=UTC))
        assert client.get("/parley/v1/billing/agents/rbm").json()["billing_category"] == (
            "NON_CONVERSATIONAL"
        )
        change = client.patch(
            "/parley/v1/billing/agents/rbm",
            {"billing_category": "CONVERSATIONAL"},
            content_type="application/json",
        )
        assert change.status_code == 409
        assert "cannot be changed" in change.json()["error"]["message"]
        assert BillingAgent.objects.get(agent_id="rbm").billing_category == "NON_CONVERSATIONAL"

    def test_rate_card_is_edited_by_administrators_only(self, client, staff) -> None:
        text = (
            "country,item,currency,unit_price,effective_from\nIN,marketing,USD,0.0050,2026-01-01\n"
        )
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(staff["developer"])
        assert client.put("/parley/v1/billing/rate-card", {"csv": text},
                          content_type="application/json").status_code == 403  # fmt: skip
        client.cookies[settings.SESSION_COOKIE_NAME] = verified_session(staff["administrator"])
        ok = client.put(
            "/parley/v1/billing/rate-card", {"csv": text}, content_type="application/json"
        )
        assert ok.json() == {"rows": 1}
        assert "IN,marketing,USD,0.0050" in client.get("/parley/v1/billing/rate-card").json()["csv"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_delivery_events_are_rated_by_the_worker(business) -> None:
    at = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    with transaction.atomic():
        publish(DeliveryRecorded(
            business_id=business.pk, occurred_at=at, message_id="live-1", agent_id="agent-9",
            agent_category="NON_CONVERSATIONAL", customer=IN_CUSTOMER, channel="RCS",
            direction="A2P", content="rich_card", sent_at=at, delivered_at=at,
        ))  # fmt: skip
    for _ in range(300):  # the worker rates in its own process; bounded wait
        event = BillableEventRecord.objects.filter(business=business).first()
        if event:
            break
        time.sleep(0.05)
    assert event is not None, "the worker never rated the delivery"
    assert event.event_type == "single_message"
    assert event.message_ids == "live-1"
