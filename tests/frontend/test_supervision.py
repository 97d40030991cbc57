"""The supervisors' page and the contact centre's set-up pages in the console.

Supervision: live queues and agents equal to a hand-computed scenario, SLA at risk and
breached, service levels and charts of a period on the simulation clock, a supervisor
setting an agent away, transfers from a session's page, the live fragment. Only
administrators and supervisors open it, and administrators see no message text on it.
Set-up: queues, SLA policies, rules, canned responses and agents' profiles are created and
edited through forms that show the actions' errors; another business's ids are not found."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from parley.accounts.models import AuditEntry, PhoneNumber
from parley.accounts.roles import Role
from parley.core import clock
from parley.core.clock import FrozenClock
from routing import index
from routing.actions.agents import do_update_agent
from routing.actions.replies import do_reply
from routing.actions.sessions import do_resolve_session, do_transfer_session
from routing.actions.setup import (
    do_save_canned_response,
    do_save_queue,
    do_save_rule,
    do_save_sla_policy,
)
from routing.actions.sla import do_check_sla
from routing.models import (
    Agent,
    CannedResponse,
    Queue,
    QueueSkill,
    RoutingRule,
    Session,
    SlaPolicy,
)
from routing.selectors import queue_stats
from tests.frontend.helpers import by_testid, field_error
from tests.routing.conftest import Team, agent_of, consume, write

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SUPERVISION_PAGES = [
    "/supervision/",
    "/supervision/?part=live",
    "/supervision/?period=7d&target_s=60",
    "/supervision/sessions/",
    "/supervision/sessions/?state=all",
]
SETUP_PAGES = ["/routing/", "/routing/queues/new/", "/routing/sla/", "/routing/rules/",
               "/routing/canned/"]  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    index.forget()
    yield
    index.forget()


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Care")
    return PhoneNumber.objects.create(
        business=business,
        e164="+919820100001",
        country="IN",
        display_name="Care",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


@pytest.fixture
def supervisor(factory: Any, number: PhoneNumber) -> Any:
    return factory.staff(number.business, "supervisor")


@pytest.fixture
def admin(factory: Any, number: PhoneNumber) -> Any:
    return factory.staff(number.business, "administrator")


@pytest.fixture
def team(factory: Any, number: PhoneNumber, supervisor: Any) -> Team:
    return Team(factory, number, supervisor)


@pytest.fixture
def other(factory: Any) -> dict[str, Any]:
    """Another business with its own set-up, agent and session."""
    business = factory.business("Other")
    boss = factory.staff(business, "supervisor")
    theirs = PhoneNumber.objects.create(
        business=business, e164="+14155550199", country="US", display_name="Other",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    agent = Team(factory, theirs, boss).agent()
    message = write(theirs, "+14155550123", "their secret")
    consume()
    return {
        "business": business,
        "agent": agent,
        "queue": do_save_queue(boss, name="Their queue"),
        "policy": do_save_sla_policy(boss, name="Their SLA", first_response_s=60),
        "rule": do_save_rule(boss, kind="keyword", value="theirs"),
        "canned": do_save_canned_response(boss, shortcut="theirs", text="Their text"),
        "session": Session.objects.get(conversation=message.conversation),
    }


def _row(html: str, attribute: str, value: object) -> str:
    """The <tr> carrying data-<attribute>="<value>"."""
    match = re.search(rf'<tr[^>]*data-{attribute}="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert match is not None, f"no row {attribute}={value}"
    return match.group(1)


def _text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


# -- supervision -----------------------------------------------------------------------------


def _scenario(team: Team, number: PhoneNumber, supervisor: Any, frozen_clock: FrozenClock
              ) -> dict[str, Any]:  # fmt: skip
    """Billing (priority 5, billing ≥ 2, a 30 s SLA) and the default General queue.

    Alice (billing 3, capacity 1), Bob (capacity 2), Carol (billing 1, capacity 4) are
    available; Dave (billing 5, capacity 3) is away. Customers write "invoice" (to Billing)
    at T0, T0+10 s and T0+45 s and "hello" (to General) at T0+30 s; now is T0+70 s."""
    policy = do_save_sla_policy(supervisor, name="Fast", first_response_s=30)
    billing = do_save_queue(supervisor, name="Billing", priority=5, skills={"billing": 2},
                            sla_policy_id=policy.pk)  # fmt: skip
    do_save_rule(supervisor, kind="keyword", value="invoice", queue_id=billing.pk)
    people = {
        "alice": team.agent(capacity=1, skills={"billing": 3}),
        "bob": team.agent(capacity=2),
        "carol": team.agent(capacity=4, skills={"billing": 1}),
        "dave": team.agent(capacity=3, skills={"billing": 5}, status=Agent.Status.AWAY),
    }
    messages = {}
    for name, at, text in [("c1", 0, "invoice one"), ("c2", 10, "invoice two"),
                           ("c4", 30, "hello"), ("c3", 45, "invoice three")]:  # fmt: skip
        frozen_clock.set(T0 + dt.timedelta(seconds=at))
        messages[name] = write(number, text=text)
        consume()
    frozen_clock.set(T0 + dt.timedelta(seconds=70))
    sessions = {k: Session.objects.get(conversation=m.conversation) for k, m in messages.items()}
    general = Queue.objects.get(business=number.business, is_default=True)
    return {"billing": billing, "general": general, "sessions": sessions, **people}


def test_queue_statistics_on_the_page_equal_a_hand_computed_scenario(
    team: Team, number: PhoneNumber, supervisor: Any, frozen_clock: FrozenClock,
    console_client: Any,
) -> None:  # fmt: skip
    world = _scenario(team, number, supervisor, frozen_clock)
    sessions = world["sessions"]
    assert sessions["c1"].state == "offered" and sessions["c1"].agent == agent_of(world["alice"])
    assert [sessions[k].state for k in ("c2", "c3")] == ["waiting", "waiting"]
    assert sessions["c4"].state == "offered"

    live = console_client.as_(supervisor).get("/supervision/?part=live")
    assert live.status_code == 200
    html = live.content.decode()
    assert "<html" not in html and 'id="supervision-live"' in html
    billing = _row(html, "queue", world["billing"].pk)
    # Waiting since T0+10 s; eligible: Alice and Dave (billing ≥ 2), none available (Alice
    # is full, Dave away); their load 1 of 1 + 3.
    assert by_testid(billing, "queue-waiting") == ["2"]
    assert by_testid(billing, "queue-longest") == ["1 min 00 s"]
    assert by_testid(billing, "queue-offered") == ["1"]
    assert by_testid(billing, "queue-active") == ["0"]
    assert by_testid(billing, "queue-agents") == ["0 / 2"]
    assert by_testid(billing, "queue-load") == ["1 / 4"]
    general = _row(html, "queue", world["general"].pk)
    # Everyone is eligible; Bob and Carol are available (one of them holds "hello").
    assert by_testid(general, "queue-waiting") == ["0"]
    assert by_testid(general, "queue-longest") == ["—"]
    assert by_testid(general, "queue-offered") == ["1"]
    assert by_testid(general, "queue-agents") == ["2 / 4"]
    assert by_testid(general, "queue-load") == ["2 / 10"]
    # The page shows what the selector computes.
    stats = {q.name: q for q in queue_stats(number.business)}
    assert (stats["Billing"].waiting, stats["Billing"].longest_waiting_s) == (2, 60)

    alice = _row(html, "agent", world["alice"].pk)
    assert by_testid(alice, "agent-load") == ["1 / 1"]
    assert by_testid(alice, "agent-status") == ["available"]
    assert by_testid(alice, "agent-unanswered") == ["1"]
    dave = _row(html, "agent", world["dave"].pk)
    assert by_testid(dave, "agent-status") == ["away"]
    assert by_testid(dave, "agent-presence") == ["offline"]  # no console heartbeat yet
    assert 'data-testid="agent-set-away"' not in dave  # already away: only "offline" offered
    assert 'data-testid="agent-set-offline"' in dave

    # SLA (first response within 30 s): c1 and c2 are past due, c3 (25 s old) is at risk,
    # c4's queue has no policy.
    watch = {s: _row(html, "session", sessions[s].pk) for s in ("c1", "c2", "c3")}
    assert by_testid(watch["c1"], "watch-state") == ["breached"]
    assert by_testid(watch["c2"], "watch-state") == ["breached"]
    assert by_testid(watch["c3"], "watch-state") == ["at risk"]
    assert f'data-session="{sessions["c4"].pk}"' not in html
    assert "No breaches recorded." in html

    assert do_check_sla() == 2  # the sweep records c1's and c2's breaches
    after = console_client.get("/supervision/?part=live").content.decode()
    table = after.split('data-testid="breach-table"')[1]
    assert f'data-session="{sessions["c1"].pk}"' in table
    assert f'data-session="{sessions["c2"].pk}"' in table
    assert f'data-session="{sessions["c3"].pk}"' not in table


def test_the_full_page_carries_the_live_panels_and_follows_the_stream(
    team: Team, number: PhoneNumber, supervisor: Any, console_client: Any
) -> None:
    team.agent()
    client = console_client.as_(supervisor)
    page = client.get("/supervision/").content.decode()
    assert 'id="supervision-live"' in page and 'data-src="/supervision/?part=live"' in page
    assert "/static/frontend/supervision.js" in page
    assert 'data-testid="stream-state"' in page
    nav = re.search(r'<nav aria-label="Console sections">(.*?)</nav>', page, re.S)
    assert nav is not None
    assert 'href="/supervision/"' in nav.group(1) and 'href="/routing/"' in nav.group(1)
    before = client.get("/supervision/?part=live").content.decode()
    assert by_testid(before, "queue-waiting") == []  # no queue until someone writes
    write(number)
    consume()
    after = client.get("/supervision/?part=live").content.decode()
    assert by_testid(after, "queue-offered") == ["1"]
    assert by_testid(after, "agent-load") == ["1 / 15"]


def test_service_levels_and_charts_of_a_period(
    team: Team, number: PhoneNumber, supervisor: Any, frozen_clock: FrozenClock,
    console_client: Any,
) -> None:  # fmt: skip
    alice = team.agent(capacity=10, team="North")
    frozen_clock.set(T0 - dt.timedelta(days=1))
    yesterday = write(number)
    consume()
    do_reply(alice, yesterday.conversation_id, text="Late hello")
    consume()
    frozen_clock.set(T0)
    messages = [write(number) for _ in range(4)]
    consume()
    for message, after in zip(messages[:3], (5, 20, 45), strict=True):
        frozen_clock.set(T0 + dt.timedelta(seconds=after))
        do_reply(alice, message.conversation_id, text="Hello")
        consume()
    frozen_clock.set(T0 + dt.timedelta(minutes=5))

    client = console_client.as_(supervisor)
    today = client.get("/supervision/").content.decode()
    # Today: 4 sessions, 3 answered after 5, 20 and 45 s; 2 of 4 within 30 s.
    assert by_testid(today, "overall-sessions") == ["4"]
    assert by_testid(today, "overall-avg") == ["23 s"]
    assert by_testid(today, "overall-within-target") == ["50.0 %"]
    histogram = re.findall(r'data-label="([^"]+)" data-value="(\d+)"', today)
    assert ("0-10 s", "1") in histogram and ("10-30 s", "1") in histogram
    assert ("30-60 s", "1") in histogram and ("&gt;1 h", "0") in histogram
    assert 'data-label="General" data-value="50"' in today  # the per-queue rate chart
    team_row = _row(today, "key", "team:North")
    assert by_testid(team_row, "level-within-target") == ["50.0 %"]
    agent_row = _row(today, "key", f"agent:{agent_of(alice).pk}")
    assert by_testid(agent_row, "level-avg") == ["23 s"]

    # The last 7 days take yesterday's session in too; a 60 s target takes the 45 s answer.
    week = client.get("/supervision/?period=7d&target_s=60").content.decode()
    assert by_testid(week, "overall-sessions") == ["5"]
    assert by_testid(week, "overall-within-target") == ["80.0 %"]
    # A bad target is a form error, not a 500; the default applies.
    bad = client.get("/supervision/?target_s=0")
    assert bad.status_code == 200
    assert "greater than or equal to 1" in bad.content.decode()
    assert by_testid(bad.content.decode(), "overall-within-target") == ["50.0 %"]


def test_a_supervisor_sets_an_agent_away_and_their_unanswered_conversation_returns(
    team: Team, number: PhoneNumber, supervisor: Any, console_client: Any,
    other: dict[str, Any],
) -> None:  # fmt: skip
    alice = team.agent()
    message = write(number)
    consume()
    session = Session.objects.get(conversation=message.conversation)
    assert session.state == "offered"
    client = console_client.as_(supervisor)
    response = client.post(f"/supervision/agents/{alice.pk}/status/", {"status": "away"})
    assert response.status_code == 302
    agent = agent_of(alice)
    assert (agent.status, agent.status_reason, agent.load) == ("away", "supervisor", 0)
    session.refresh_from_db()
    assert session.state == "waiting" and session.agent is None
    assert "is now away" in client.get("/supervision/").content.decode()
    # Only away or offline: a supervisor does not make someone available.
    client.post(f"/supervision/agents/{alice.pk}/status/", {"status": "available"})
    assert agent_of(alice).status == "away"
    assert "Choose away or offline." in client.get("/supervision/").content.decode()
    # Another business's agent is not found, and stays as they were.
    theirs = client.post(f"/supervision/agents/{other['agent'].pk}/status/", {"status": "away"})
    assert theirs.status_code == 404
    assert agent_of(other["agent"]).status == "available"


def test_transfer_from_the_session_page_with_errors_on_the_form(
    team: Team, number: PhoneNumber, supervisor: Any, console_client: Any,
    other: dict[str, Any],
) -> None:  # fmt: skip
    alice, bob = team.agent(), team.agent()
    offline = team.agent(status=Agent.Status.OFFLINE)
    message = write(number)
    consume()
    session = Session.objects.get(conversation=message.conversation)
    holder, receiver = (alice, bob) if session.agent == agent_of(alice) else (bob, alice)
    client = console_client.as_(supervisor)

    listing = client.get(f"/supervision/sessions/?agent={holder.pk}").content.decode()
    assert f'href="/supervision/sessions/{session.pk}/#transfer"' in listing
    elsewhere = client.get(f"/supervision/sessions/?agent={receiver.pk}").content.decode()
    assert f'data-session="{session.pk}"' not in elsewhere

    url = f"/supervision/sessions/{session.pk}/"
    refused = client.post(url, {"to": f"agent:{offline.pk}", "note": "x"})
    assert refused.status_code == 200
    assert "offline or at capacity" in field_error(refused.content.decode(), "to")
    empty = client.post(url, {"to": "", "note": ""})
    assert "This field is required." in field_error(empty.content.decode(), "to")
    foreign = client.post(url, {"to": f"agent:{other['agent'].pk}"})
    assert "Select a valid choice" in field_error(foreign.content.decode(), "to")
    session.refresh_from_db()
    assert session.agent == agent_of(holder) and session.transfers == 0

    moved = client.post(url, {"to": f"agent:{receiver.pk}", "note": "VIP, be quick"})
    assert moved.status_code == 302 and moved["Location"] == url
    session.refresh_from_db()
    assert session.agent == agent_of(receiver) and session.state == "offered"
    page = client.get(url).content.decode()
    assert "Transferred." in page and "VIP, be quick" in page  # supervisors read notes
    queue = do_save_queue(supervisor, name="Escalations")
    client.post(url, {"to": f"queue:{queue.pk}"})
    session.refresh_from_db()
    assert session.queue == queue
    # A closed session is not transferred: the form's answer says why (a stale tab).
    do_resolve_session(supervisor, session.pk)
    closed = client.post(url, {"to": f"agent:{holder.pk}"})
    assert closed.status_code == 200
    assert "This conversation is closed." in closed.content.decode()
    assert 'data-testid="transfer-form"' not in closed.content.decode()

    # Another business's session is not found; nothing of it shows.
    theirs = other["session"]
    their_url = f"/supervision/sessions/{theirs.pk}/"
    for response in (client.get(their_url), client.post(their_url, {"to": f"queue:{queue.pk}"})):
        assert response.status_code == 404
        assert "+14155550123" not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.queue_id != queue.pk
    assert "+14155550123" not in client.get("/supervision/sessions/?state=all").content.decode()


def test_administrators_see_no_message_text_on_the_supervision_pages(
    team: Team, number: PhoneNumber, supervisor: Any, admin: Any, console_client: Any,
    frozen_clock: FrozenClock,
) -> None:  # fmt: skip
    alice, bob = team.agent(), team.agent()
    policy = do_save_sla_policy(supervisor, name="S", first_response_s=5)
    do_save_queue(supervisor, name="General", is_default=True, sla_policy_id=policy.pk)
    message = write(number, "+919820299999", "PARCEL-SECRET-41 where is it")
    consume()
    session = Session.objects.get(conversation=message.conversation)
    holder = alice if session.agent == agent_of(alice) else bob
    do_reply(holder, message.conversation_id, text="REPLY-SECRET-42 on its way")
    consume()
    write(number, "+919820299999", "FOLLOWUP-SECRET-43")
    consume()
    target = bob if holder == alice else alice
    do_transfer_session(supervisor, session.pk, to_agent_user_id=target.pk, note="NOTE-SECRET-44")
    frozen_clock.advance(days=2)
    do_check_sla()
    secrets = ["PARCEL-SECRET-41", "REPLY-SECRET-42", "FOLLOWUP-SECRET-43", "NOTE-SECRET-44"]
    pages = [*SUPERVISION_PAGES, f"/supervision/sessions/{session.pk}/"]
    client = console_client.as_(admin)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert not [s for s in secrets if s in body], url
    # The pages do show the session (its metadata) to the administrator.
    assert "+919820299999" in client.get("/supervision/sessions/").content.decode()
    assert "+919820299999" in client.get("/supervision/").content.decode()  # SLA watch
    # A supervisor reads the transfer note (the check above is not vacuous).
    mine = console_client.as_(supervisor).get(f"/supervision/sessions/{session.pk}/")
    assert "NOTE-SECRET-44" in mine.content.decode()


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_only_administrators_and_supervisors_open_the_pages(
    role: Role, factory: Any, number: PhoneNumber, team: Team, console_client: Any
) -> None:
    alice = team.agent()
    write(number)
    consume()
    session = Session.objects.get()
    user = factory.staff(number.business, role.value)
    client = console_client.as_(user)
    allowed = role in (Role.ADMINISTRATOR, Role.SUPERVISOR)
    pages = [*SUPERVISION_PAGES, *SETUP_PAGES, "/routing/agents/", f"/routing/agents/{alice.pk}/"]
    for url in [*pages, f"/supervision/sessions/{session.pk}/"]:
        response = client.get(url)
        assert response.status_code == (200 if allowed else 403), (url, response.status_code)
    audit_before = AuditEntry.objects.count()
    posts = [
        (f"/supervision/agents/{alice.pk}/status/", {"status": "away"}),
        (f"/supervision/sessions/{session.pk}/", {"to": f"agent:{alice.pk}"}),
        ("/routing/queues/new/", _queue_form(name="Sales")),
        ("/routing/sla/", {"name": "Std", "first_response_s": "30", "next_response_s": "60"}),
        ("/routing/rules/", {"kind": "keyword", "value": "x", "priority": "0", "position": "0"}),
        ("/routing/canned/", {"shortcut": "hi", "text": "Hello"}),
        (f"/routing/agents/{alice.pk}/", {"capacity": "3"}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert (response.status_code == 403) is not allowed, (url, response.status_code)
    if not allowed:
        assert AuditEntry.objects.count() == audit_before
        assert agent_of(alice).status == "available" and agent_of(alice).capacity == 15
        assert not Queue.objects.filter(name="Sales").exists()
        assert not CannedResponse.objects.exists()
    nav = client.get("/").content.decode()
    assert ('href="/supervision/"' in nav) is allowed
    assert ('href="/routing/"' in nav) is allowed


# -- set-up ----------------------------------------------------------------------------------


def _queue_form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Billing",
        "priority": "5",
        "language": "",
        "skills": "",
        "offer_timeout_s": "60",
        "escalate_after_s": "300",
        "max_priority": "10",
        **overrides,
    }


def test_queues_are_created_and_edited_with_the_actions_errors_on_the_form(
    number: PhoneNumber, supervisor: Any, console_client: Any
) -> None:
    policy = do_save_sla_policy(supervisor, name="Gold", first_response_s=20)
    client = console_client.as_(supervisor)
    created = client.post("/routing/queues/new/", _queue_form(
        skills="billing:3, Refunds", numbers=[str(number.pk)], sla_policy=str(policy.pk),
        language="HI", is_default="on",
    ))  # fmt: skip
    assert created.status_code == 302 and created["Location"] == "/routing/"
    queue = Queue.objects.get(name="Billing")
    assert (queue.priority, queue.language, queue.sla, queue.is_default) == (5, "hi", policy, True)
    assert list(queue.numbers.all()) == [number]
    assert {(s.skill.name, s.min_proficiency) for s in QueueSkill.objects.filter(queue=queue)} == {
        ("billing", 3), ("refunds", 1),
    }  # fmt: skip
    listing = client.get("/routing/").content.decode()
    assert "Queue Billing created." in listing and "billing ≥ 3" in listing

    edit = client.get(f"/routing/queues/{queue.pk}/").content.decode()
    assert 'value="billing:3, refunds:1"' in edit and 'value="Billing"' in edit
    saved = client.post(f"/routing/queues/{queue.pk}/", _queue_form(priority="7", skills=""))
    assert saved.status_code == 302
    queue.refresh_from_db()
    assert queue.priority == 7 and not QueueSkill.objects.filter(queue=queue).exists()
    assert queue.sla is None and not queue.numbers.exists()

    do_save_queue(supervisor, name="Sales")
    errors = {
        "name": (_queue_form(name="Sales"), "A queue of that name exists."),
        "offer_timeout_s": (_queue_form(name="New", offer_timeout_s="2"), "5 s to 1 hour"),
        "priority": (_queue_form(name="New", priority="500"), "Priorities are -100 to 100."),
        "skills": (_queue_form(name="New", skills="billing:9"), "needs a minimum of 1 to 5"),
        "language": (_queue_form(name="New", language="e1"), "is not a language code"),
    }
    for field, (data, message) in errors.items():
        response = client.post("/routing/queues/new/", data)
        assert response.status_code == 200, field
        assert message in htmllib.unescape(field_error(response.content.decode(), field)), field
    typo = client.post("/routing/queues/new/", _queue_form(name="New", skills="billing:x"))
    assert "name:level" in htmllib.unescape(field_error(typo.content.decode(), "skills"))
    assert not Queue.objects.filter(name="New").exists()


def test_sla_policies_rules_and_canned_responses(
    number: PhoneNumber, supervisor: Any, console_client: Any
) -> None:
    client = console_client.as_(supervisor)
    sla = {"name": "Standard", "first_response_s": "30", "next_response_s": "3600"}
    assert client.post("/routing/sla/", sla).status_code == 302
    policy = SlaPolicy.objects.get(name="Standard")
    assert (policy.first_response_s, policy.next_response_s, policy.resolution_s) == (
        30,
        3600,
        None,
    )
    duplicate = client.post("/routing/sla/", sla)
    assert "An SLA policy of that name exists." in field_error(duplicate.content.decode(), "name")
    zero = client.post("/routing/sla/", {**sla, "name": "Zero", "first_response_s": "0"})
    assert "1 s to 30 days" in field_error(zero.content.decode(), "first_response_s")
    edited = client.post(f"/routing/sla/{policy.pk}/", {**sla, "resolution_s": "7200"})
    assert edited.status_code == 302
    policy.refresh_from_db()
    assert policy.resolution_s == 7200
    assert SlaPolicy.objects.count() == 1

    queue = do_save_queue(supervisor, name="Billing")
    rule = {"kind": "keyword", "value": "invoice", "queue": str(queue.pk), "priority": "2",
            "language": "", "position": "1"}  # fmt: skip
    assert client.post("/routing/rules/", rule).status_code == 302
    saved = RoutingRule.objects.get()
    assert (saved.kind, saved.value, saved.queue, saved.priority) == (
        "keyword",
        "invoice",
        queue,
        2,
    )
    assert "invoice" in client.get("/routing/rules/").content.decode()
    for field, bad, message in [("value", "x" * 150, "at most 100 characters"),
                                ("position", "-1", "The position is 0 to 1000000."),
                                ("priority", "101", "Priorities are -100 to 100.")]:  # fmt: skip
        response = client.post("/routing/rules/", {**rule, field: bad})
        assert response.status_code == 200
        assert message in field_error(response.content.decode(), field), field
    assert RoutingRule.objects.count() == 1
    assert client.post(f"/routing/rules/{saved.pk}/delete/").status_code == 302
    assert not RoutingRule.objects.exists()
    assert client.post(f"/routing/rules/{saved.pk}/delete/").status_code == 404

    assert (
        client.post("/routing/canned/", {"shortcut": "Thanks", "text": "Thank you!"}).status_code
        == 302
    )
    canned = CannedResponse.objects.get()
    assert (canned.shortcut, canned.text) == ("thanks", "Thank you!")
    bad = client.post("/routing/canned/", {"shortcut": "!!!", "text": "x"})
    assert "A shortcut is required." in field_error(bad.content.decode(), "shortcut")
    blank = client.post(f"/routing/canned/{canned.pk}/", {"text": "   "})
    assert "This field is required." in field_error(blank.content.decode(), "text")
    assert client.post(f"/routing/canned/{canned.pk}/", {"text": "Many thanks"}).status_code == 302
    canned.refresh_from_db()
    assert canned.text == "Many thanks" and CannedResponse.objects.count() == 1


def test_agents_profiles_are_edited_with_the_actions_errors_on_the_form(
    factory: Any, number: PhoneNumber, supervisor: Any, console_client: Any
) -> None:
    newcomer = factory.staff(number.business, "agent")  # no routing profile yet
    factory.staff(number.business, "developer")  # takes no conversations
    client = console_client.as_(supervisor)
    listing = client.get("/routing/agents/").content.decode()
    assert f'data-agent="{newcomer.pk}"' in listing and "No routing profile yet" in listing
    assert "Developer" not in listing
    url = f"/routing/agents/{newcomer.pk}/"
    for data, field, message in [
        ({"capacity": "51"}, "capacity", "Capacity must be between 1 and 50."),
        ({"capacity": "0"}, "capacity", "Capacity must be between 1 and 50."),
        ({"capacity": "5", "languages": "en, e1"}, "languages", "is not a language code"),
        ({"capacity": "5", "skills": "billing:7"}, "skills", "must be 1 to 5"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 200
        assert message in htmllib.unescape(field_error(response.content.decode(), field))
    assert not Agent.objects.filter(user=newcomer).exists()
    saved = client.post(url, {"capacity": "20", "skills": "billing:4, refunds",
                              "languages": "en hi", "team": "North"})  # fmt: skip
    assert saved.status_code == 302
    agent = agent_of(newcomer)
    assert (agent.capacity, agent.languages, agent.team) == (20, ["en", "hi"], "North")
    assert {s.skill.name: s.proficiency for s in agent.skills.all()} == {"billing": 4, "refunds": 3}
    row = _row(client.get("/routing/agents/").content.decode(), "agent", newcomer.pk)
    assert by_testid(row, "agent-capacity") == ["20"]
    assert 'value="billing:4, refunds:3"' in client.get(url).content.decode()


def test_another_business_set_up_is_not_found(
    number: PhoneNumber, supervisor: Any, console_client: Any, other: dict[str, Any]
) -> None:
    client = console_client.as_(supervisor)
    urls = {
        f"/routing/queues/{other['queue'].pk}/": _queue_form(name="Taken"),
        f"/routing/sla/{other['policy'].pk}/": {"name": "Taken", "first_response_s": "1",
                                                "next_response_s": "1"},
        f"/routing/canned/{other['canned'].pk}/": {"text": "Taken"},
        f"/routing/agents/{other['agent'].pk}/": {"capacity": "1"},
        "/routing/queues/999999999/": _queue_form(name="Taken"),
        "/routing/agents/999999999999999999/": {"capacity": "1"},
    }  # fmt: skip
    for url, data in urls.items():
        assert client.get(url).status_code == 404, url
        assert client.post(url, data).status_code == 404, url
    assert client.post(f"/routing/rules/{other['rule'].pk}/delete/").status_code == 404
    assert RoutingRule.objects.filter(pk=other["rule"].pk).exists()
    other["queue"].refresh_from_db()
    other["policy"].refresh_from_db()
    assert other["queue"].name == "Their queue" and other["policy"].name == "Their SLA"
    assert CannedResponse.objects.get(pk=other["canned"].pk).text == "Their text"
    assert agent_of(other["agent"]).capacity == 15
    # Their objects are not offered in our forms or lists either.
    for url in ("/routing/", "/routing/sla/", "/routing/rules/", "/routing/canned/",
                "/routing/agents/", "/routing/queues/new/", "/supervision/"):  # fmt: skip
        body = _text(client.get(url).content.decode())
        assert "Their queue" not in body and "Their SLA" not in body, url
        assert "Their text" not in body and other["agent"].full_name not in body, url
    # A queue form naming their number or SLA policy is refused by the form.
    theirs = _queue_form(name="Mine", sla_policy=str(other["policy"].pk))
    response = client.post("/routing/queues/new/", theirs)
    assert "Select a valid choice" in field_error(response.content.decode(), "sla_policy")
    assert not Queue.objects.filter(name="Mine").exists()
    # A supervisor of ours (who takes conversations too) is ours to edit.
    do_update_agent(supervisor, supervisor, capacity=3)
    assert client.get(f"/routing/agents/{supervisor.pk}/").status_code == 200


# -- in Chromium -----------------------------------------------------------------------------


def test_the_live_panels_follow_routing_events_in_the_browser(
    page: Any, asgi_server: str, celery_worker: None, factory: Any
) -> None:
    """A real uvicorn and worker: customers write, the worker routes their conversations
    and pushes routing's events; the page fetches its live panels again, a few times for a
    burst of events, without reloading, under the Content-Security-Policy."""
    from playwright.sync_api import expect

    from tests.frontend.test_messages_browser import _open

    business = factory.business("Live")
    number = PhoneNumber.objects.create(
        business=business, e164="+919820166666", country="IN", display_name="Live",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    boss = factory.staff(business, "supervisor")
    alice = Team(factory, number, boss).agent(capacity=3)
    problems = _open(page, asgi_server, boss, "/supervision/")
    # When the page fetches its panels (the page's own clock; supervision.js looks `fetch`
    # up at each call).
    page.evaluate(
        """() => { window.liveFetches = []; const original = window.fetch;
        window.fetch = function (url) {
          if (String(url).includes("part=live")) window.liveFetches.push(performance.now());
          return original.apply(this, arguments); }; }"""
    )
    load = page.locator(f'tr[data-agent="{alice.pk}"] [data-testid=agent-load]')
    expect(load).to_have_text("0 / 3")

    for n in range(5):
        write(number, f"+91982016{n:04d}", "hello")
    expect(load).to_have_text("3 / 3", timeout=20_000)
    waiting = page.locator("[data-queue] [data-testid=queue-waiting]")
    expect(waiting).to_have_text("2", timeout=20_000)
    # However the burst of events (five queued, three offered, agents' changes) arrived,
    # the panels were fetched at most once a second.
    starts = page.evaluate("window.liveFetches")
    assert starts, "the panels were never fetched again"
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= 950 for gap in gaps), gaps
    assert page.evaluate("window.stillTheSamePage === true")
    assert problems == []
