"""Routing over the API (`/parley/v1/routing/…`): queues, agents, sessions with transfer and
resolve, live statistics and service levels. Validation errors in Meta's envelope with the
right status, another business's ids not found, token scopes and staff sessions, no message
text in any answer, and the OpenAPI schema documenting it all."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from parley.accounts.actions.staff import do_set_active
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry, PhoneNumber
from parley.core.clock import FrozenClock
from parley.core.errors import PermissionDenied
from routing import index
from routing.actions.replies import do_reply
from routing.actions.setup import do_save_queue, do_save_sla_policy
from routing.models import Agent, Queue, Session
from tests.conftest import verified_session
from tests.routing.conftest import Team, agent_of, consume, write

pytestmark = pytest.mark.django_db

BASE = "/parley/v1/routing"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SCOPES = ["supervise_queues", "manage_agents"]


class Api:
    """A Django test client speaking JSON with a Bearer token or a staff session."""

    def __init__(self, secret: str = "", session: str = "") -> None:
        self.client = Client()
        self.headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
        if session:
            from django.conf import settings

            self.client.cookies[settings.SESSION_COOKIE_NAME] = session

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None) -> Any:
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = self.client.generic(
            method, path, data=data, content_type="application/json", **self.headers
        )
        assert response.status_code < 500, response.content
        assert response["Content-Type"].startswith("application/json")
        return response

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)


def _error(response: Any, status: int, code: int = 100) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert {"message", "type", "code", "fbtrace_id"} <= set(body["error"])
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    index.forget()
    yield
    index.forget()


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
def api(admin: Any) -> Api:
    return Api(do_create_api_token(admin, name="routing", scopes=SCOPES).secret)


@pytest.fixture
def other(factory: Any) -> dict[str, Any]:
    business = factory.business("Other")
    boss = factory.staff(business, "supervisor")
    theirs = PhoneNumber.objects.create(
        business=business, e164="+919820177777", country="IN", display_name="Other",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=T0,
    )  # fmt: skip
    agent = Team(factory, theirs, boss).agent()
    message = write(theirs, "+919820188888")
    consume()
    return {
        "agent": agent,
        "number": theirs,
        "queue": do_save_queue(boss, name="Theirs"),
        "policy": do_save_sla_policy(boss, name="Their SLA", first_response_s=60),
        "session": Session.objects.get(conversation=message.conversation),
    }


# -- queues ----------------------------------------------------------------------------------


def test_queues_are_listed_created_and_changed(
    api: Api, number: PhoneNumber, supervisor: Any, admin: Any, other: dict[str, Any]
) -> None:
    policy = do_save_sla_policy(supervisor, name="Gold", first_response_s=20)
    created = api.post(f"{BASE}/queues", {
        "name": "Billing", "priority": 5, "language": "hi", "skills": {"billing": 3},
        "number_ids": [number.pk], "sla_policy_id": policy.pk, "offer_timeout_s": 30,
    })  # fmt: skip
    assert created.status_code == 201, created.content
    node = created.json()
    assert node["name"] == "Billing" and node["priority"] == 5 and node["language"] == "hi"
    assert node["skills"] == {"billing": 3} and node["number_ids"] == [number.pk]
    assert node["sla_policy_id"] == policy.pk and node["offer_timeout_s"] == 30
    assert node["escalate_after_s"] == 300 and node["is_default"] is False
    # The token's creator is who the audit log names.
    entry = AuditEntry.objects.get(action="routing.queue_saved", target="Billing")
    assert entry.actor_ref == admin.pk

    listing = api.get(f"{BASE}/queues").json()
    assert set(listing) == {"data", "paging"}
    assert [q["name"] for q in listing["data"]] == ["Billing"]  # not the other business's
    one = api.get(f"{BASE}/queues/{node['id']}").json()
    assert one == node

    changed = api.patch(f"{BASE}/queues/{node['id']}", {"priority": 7, "skills": {}})
    assert changed.status_code == 200, changed.content
    after = changed.json()
    assert after["priority"] == 7 and after["skills"] == {}
    # What the body left out kept its value.
    assert after["number_ids"] == [number.pk] and after["sla_policy_id"] == policy.pk
    assert after["language"] == "hi" and after["offer_timeout_s"] == 30
    cleared = api.patch(f"{BASE}/queues/{node['id']}", {"sla_policy_id": None}).json()
    assert cleared["sla_policy_id"] is None


def test_queue_validation_errors_are_in_metas_envelope(
    api: Api, number: PhoneNumber, supervisor: Any, other: dict[str, Any]
) -> None:
    do_save_queue(supervisor, name="Sales")
    assert "name" in _error(api.post(f"{BASE}/queues", {"priority": 1}), 400)
    assert "priority" in _error(api.post(f"{BASE}/queues", {"name": "A", "priority": 500}), 400)
    assert "name" in _error(api.post(f"{BASE}/queues", {"name": 123}), 400)
    _error(api.post(f"{BASE}/queues", {"name": "A", "skills": {"billing": 9}}), 400)
    _error(api.post(f"{BASE}/queues", {"name": "A", "offer_timeout_s": 1}), 400)
    _error(api.post(f"{BASE}/queues", ["not", "an", "object"]), 400)
    _error(api.post(f"{BASE}/queues", raw="{not json"), 400)
    # The action's own checks, in the same envelope.
    assert "language code" in _error(
        api.post(f"{BASE}/queues", {"name": "A", "language": "e1"}), 400
    )
    assert "exists" in _error(api.post(f"{BASE}/queues", {"name": "Sales"}), 409)
    # Another business's SLA policy or number is no such thing.
    theirs = {"name": "A", "sla_policy_id": other["policy"].pk}
    assert "No such SLA policy." in _error(api.post(f"{BASE}/queues", theirs), 400)
    theirs = {"name": "A", "number_ids": [other["number"].pk]}
    assert "No such number." in _error(api.post(f"{BASE}/queues", theirs), 400)
    assert not Queue.objects.filter(name="A").exists()
    # Their queue is not found; neither is a queue that does not exist.
    for path in (f"{BASE}/queues/{other['queue'].pk}", f"{BASE}/queues/999999999"):
        _error(api.get(path), 404)
        _error(api.patch(path, {"name": "Mine now"}), 404)
    other["queue"].refresh_from_db()
    assert other["queue"].name == "Theirs"
    _error(api.call("DELETE", f"{BASE}/queues"), 405)


# -- agents ----------------------------------------------------------------------------------


def test_agents_are_listed_and_their_profiles_changed(
    api: Api, factory: Any, number: PhoneNumber, team: Team, other: dict[str, Any]
) -> None:
    alice = team.agent(capacity=4, skills={"billing": 3}, languages=["en", "hi"], team="North")
    message = write(number)
    consume()
    listing = api.get(f"{BASE}/agents").json()
    assert [a["id"] for a in listing["data"]] == [alice.pk]
    node = listing["data"][0]
    assert node["name"] == alice.full_name and node["team"] == "North"
    assert (node["capacity"], node["load"], node["status"]) == (4, 1, "available")
    assert node["skills"] == {"billing": 3} and node["languages"] == ["en", "hi"]
    assert (node["open_sessions"], node["unanswered"], node["presence"]) == (1, 1, "online")
    assert api.get(f"{BASE}/agents/{alice.pk}").json() == node

    changed = api.patch(f"{BASE}/agents/{alice.pk}", {
        "capacity": 20, "skills": {"refunds": 2}, "languages": ["pt"], "team": "South",
    })  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert changed.json()["capacity"] == 20 and changed.json()["skills"] == {"refunds": 2}
    agent = agent_of(alice)
    assert (agent.capacity, agent.languages, agent.team) == (20, ["pt"], "South")

    # Setting another agent away hands back their unanswered conversation.
    away = api.patch(f"{BASE}/agents/{alice.pk}", {"status": "away"}).json()
    assert (away["status"], away["status_reason"], away["load"]) == ("away", "supervisor", 0)
    assert Session.objects.get(conversation=message.conversation).state == "waiting"
    refused = api.patch(f"{BASE}/agents/{alice.pk}", {"status": "available"})
    assert "make themselves available" in _error(refused, 400)
    assert agent_of(alice).status == "away"

    for body, words in [
        ({"capacity": 51}, "capacity"), ({"capacity": 0}, "capacity"),
        ({"skills": {"x": 6}}, "skills"), ({"status": "asleep"}, "status"),
        ({"languages": ["e1"]}, "language code"), ({"team": 5}, "team"),
    ]:  # fmt: skip
        assert words in _error(api.patch(f"{BASE}/agents/{alice.pk}", body), 400), body
    assert agent_of(alice).capacity == 20

    # Someone who takes conversations but has no profile yet: the defaults, made on PATCH.
    newcomer = factory.staff(number.business, "agent")
    fresh = api.get(f"{BASE}/agents/{newcomer.pk}").json()
    assert (fresh["capacity"], fresh["status"], fresh["load"]) == (15, "offline", 0)
    assert not Agent.objects.filter(user=newcomer).exists()
    assert api.patch(f"{BASE}/agents/{newcomer.pk}", {"capacity": 3}).json()["capacity"] == 3
    # Not found: another business's agent, a developer (takes no conversations), no one.
    developer = factory.staff(number.business, "developer")
    for who in (other["agent"].pk, developer.pk, 999999999):
        _error(api.get(f"{BASE}/agents/{who}"), 404)
        _error(api.patch(f"{BASE}/agents/{who}", {"capacity": 2}), 404)
    assert agent_of(other["agent"]).capacity == 15


# -- sessions --------------------------------------------------------------------------------


def test_sessions_are_filtered_transferred_and_resolved(
    api: Api, number: PhoneNumber, team: Team, supervisor: Any, other: dict[str, Any]
) -> None:
    alice = team.agent(capacity=1)
    team.agent(capacity=1)  # Bob
    offline = team.agent(status=Agent.Status.OFFLINE)
    first, second, third = (write(number, text=f"SECRET-TEXT-{n}") for n in range(3))
    consume()
    s1, s2, s3 = (Session.objects.get(conversation=m.conversation) for m in (first, second, third))
    assert sorted([s1.state, s2.state, s3.state]) == ["offered", "offered", "waiting"]
    waiting = next(s for s in (s1, s2, s3) if s.state == "waiting")

    everything = api.get(f"{BASE}/sessions")
    assert everything.status_code == 200
    assert "SECRET-TEXT" not in everything.content.decode()
    ids = [s["id"] for s in everything.json()["data"]]
    assert ids == sorted([s1.pk, s2.pk, s3.pk], reverse=True)  # newest first, ours only
    only_waiting = api.get(f"{BASE}/sessions?state=waiting").json()["data"]
    assert [s["id"] for s in only_waiting] == [waiting.pk]
    assert only_waiting[0]["agent_id"] is None and only_waiting[0]["customer"].startswith("+91")
    held = api.get(f"{BASE}/sessions?agent_id={alice.pk}").json()["data"]
    assert len(held) == 1 and held[0]["agent_id"] == alice.pk
    queue_id = s1.queue_id
    assert len(api.get(f"{BASE}/sessions?queue_id={queue_id}&state=open").json()["data"]) == 3
    assert api.get(f"{BASE}/sessions?state=resolved").json()["data"] == []
    page = api.get(f"{BASE}/sessions?limit=2").json()
    assert len(page["data"]) == 2 and "next" in page["paging"]
    for bad in ("state=nope", "queue_id=abc", "agent_id=-1", "limit=0"):
        _error(api.get(f"{BASE}/sessions?{bad}"), 400)

    # Transfer the waiting one: to a queue, then to a full agent (409) and an offline one.
    escalations = do_save_queue(supervisor, name="Escalations")
    moved = api.post(f"{BASE}/sessions/{waiting.pk}/transfer",
                     {"to_queue_id": escalations.pk, "note": "urgent"})  # fmt: skip
    assert moved.status_code == 200, moved.content
    assert moved.json()["queue_id"] == escalations.pk and moved.json()["transfers"] == 1
    _error(api.post(f"{BASE}/sessions/{waiting.pk}/transfer", {"to_agent_id": alice.pk}), 409)
    _error(api.post(f"{BASE}/sessions/{waiting.pk}/transfer", {"to_agent_id": offline.pk}), 409)
    both = {"to_agent_id": alice.pk, "to_queue_id": escalations.pk}
    assert "exactly one" in _error(api.post(f"{BASE}/sessions/{waiting.pk}/transfer", both), 400)
    _error(api.post(f"{BASE}/sessions/{waiting.pk}/transfer", {}), 400)
    _error(api.post(f"{BASE}/sessions/{waiting.pk}/transfer", {"to_queue_id": 1, "note": 5}), 400)
    theirs = {"to_queue_id": other["queue"].pk}
    assert "No such queue." in _error(
        api.post(f"{BASE}/sessions/{waiting.pk}/transfer", theirs), 400
    )
    theirs = {"to_agent_id": other["agent"].pk}
    assert "No such agent." in _error(
        api.post(f"{BASE}/sessions/{waiting.pk}/transfer", theirs), 400
    )
    waiting.refresh_from_db()
    assert waiting.queue_id == escalations.pk and waiting.state == "waiting"

    # Resolving Alice's session frees her capacity: the waiting one is offered to her.
    mine = next(s for s in (s1, s2, s3) if s.agent_id == agent_of(alice).pk)
    resolved = api.post(f"{BASE}/sessions/{mine.pk}/resolve")
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert resolved.json()["closed_at"] is not None
    waiting.refresh_from_db()
    assert waiting.state == "offered" and waiting.agent == agent_of(alice)
    assert api.post(f"{BASE}/sessions/{mine.pk}/resolve").json()["state"] == "resolved"

    # Another business's session is not found by any of the endpoints.
    their = other["session"]
    _error(api.post(f"{BASE}/sessions/{their.pk}/resolve"), 404)
    _error(api.post(f"{BASE}/sessions/{their.pk}/transfer", {"to_queue_id": escalations.pk}), 404)
    _error(api.post(f"{BASE}/sessions/999999999999/resolve"), 404)
    their.refresh_from_db()
    assert their.state == "offered" and their.queue_id == other["session"].queue_id
    assert "+919820188888" not in api.get(f"{BASE}/sessions?state=open").content.decode()


# -- statistics and service levels -----------------------------------------------------------


def test_stats_and_service_levels(
    api: Api, number: PhoneNumber, team: Team, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(T0)
    alice = team.agent(capacity=2, team="North")
    messages = [write(number) for _ in range(3)]  # two offered to Alice, one waits
    consume()
    frozen_clock.set(T0 + dt.timedelta(seconds=10))
    do_reply(alice, messages[0].conversation_id, text="Hi")
    consume()
    frozen_clock.set(T0 + dt.timedelta(seconds=40))
    do_reply(alice, messages[1].conversation_id, text="Hi")
    consume()
    frozen_clock.set(T0 + dt.timedelta(seconds=60))

    stats = api.get(f"{BASE}/stats").json()
    assert stats["at"] == (T0 + dt.timedelta(seconds=60)).isoformat()
    [general] = stats["queues"]
    assert (general["waiting"], general["offered"], general["active"]) == (1, 0, 2)
    assert general["longest_waiting_s"] == 60
    assert (general["eligible_agents"], general["available_agents"]) == (1, 0)
    assert (general["load"], general["capacity"]) == (2, 2)
    agents = stats["agents"]
    assert agents["total"] == 1 and agents["by_status"]["available"] == 1
    assert (agents["load"], agents["capacity"], agents["unanswered"]) == (2, 2, 0)

    levels = api.get(f"{BASE}/service-levels").json()
    assert levels["by"] == "queue" and levels["target_s"] == 30
    assert levels["since"] == T0.replace(hour=0).isoformat()
    [row] = levels["data"]
    assert (row["label"], row["sessions"], row["answered"]) == ("General", 3, 2)
    assert row["first_response_avg_s"] == 25.0
    assert row["within_target"] == pytest.approx(1 / 3)
    assert row["within_24h"] == pytest.approx(2 / 3)
    wider = api.get(f"{BASE}/service-levels?by=team&target_s=45").json()["data"]
    assert [(r["label"], r["within_target"]) for r in wider] == [("(no team)", 0.0), ("North", 1.0)]
    since = int((T0 + dt.timedelta(seconds=1)).timestamp())
    assert api.get(f"{BASE}/service-levels?since={since}&by=all").json()["data"] == []
    iso = api.get(f"{BASE}/service-levels?since=2026-03-02T08:00:00&until=2026-03-02T10:00:00Z")
    assert iso.json()["data"][0]["sessions"] == 3
    for bad in ("by=month", "target_s=0", "target_s=abc", "since=yesterday",
                f"since={since}&until={since}", "since=2026-01-01T00:00:00Z"):  # fmt: skip
        _error(api.get(f"{BASE}/service-levels?{bad}"), 400)


# -- permissions -----------------------------------------------------------------------------


def test_token_scopes_and_staff_sessions(
    factory: Any, number: PhoneNumber, team: Team, admin: Any, supervisor: Any
) -> None:
    alice = team.agent()
    write(number)
    consume()
    session = Session.objects.get()
    reads = [f"{BASE}/queues", f"{BASE}/agents", f"{BASE}/agents/{alice.pk}", f"{BASE}/sessions",
             f"{BASE}/stats", f"{BASE}/service-levels"]  # fmt: skip
    # A token without the routing scopes may do nothing here.
    numbers_only = Api(do_create_api_token(admin, name="n", scopes=["view_numbers"]).secret)
    for path in reads:
        assert "supervise_queues" in _error(numbers_only.get(path), 403, 10), path
    _error(numbers_only.post(f"{BASE}/sessions/{session.pk}/resolve"), 403, 10)
    _error(numbers_only.post(f"{BASE}/queues", {"name": "X"}), 403, 10)
    # Watching queues without managing agents: everything but an agent's profile.
    watcher = Api(do_create_api_token(admin, name="w", scopes=["supervise_queues"]).secret)
    for path in reads:
        assert watcher.get(path).status_code == 200, path
    message = _error(watcher.patch(f"{BASE}/agents/{alice.pk}", {"capacity": 3}), 403, 10)
    assert "manage_agents" in message
    manager = Api(do_create_api_token(admin, name="m", scopes=["manage_agents"]).secret)
    assert manager.patch(f"{BASE}/agents/{alice.pk}", {"capacity": 3}).status_code == 200
    assert "supervise_queues" in _error(
        manager.patch(f"{BASE}/agents/{alice.pk}", {"status": "away"}), 403, 10
    )
    assert agent_of(alice).status == "available"
    # Tokens carry these scopes only for roles that hold them.
    developer = factory.staff(number.business, "developer")
    with pytest.raises(PermissionDenied):
        do_create_api_token(developer, name="d", scopes=["supervise_queues"])
    # A token whose creator left may still read but changes nothing in their name.
    leaver = factory.staff(number.business, "administrator")
    orphan = Api(do_create_api_token(leaver, name="o", scopes=SCOPES).secret)
    do_set_active(admin, [leaver.pk], False)
    assert orphan.get(f"{BASE}/queues").status_code == 200
    assert "creator" in _error(orphan.post(f"{BASE}/queues", {"name": "Orphaned"}), 403, 10)
    assert not Queue.objects.filter(name="Orphaned").exists()

    # Staff sessions: supervisors and administrators; agents and others are refused.
    boss = Api(session=verified_session(supervisor))
    assert boss.get(f"{BASE}/stats").status_code == 200
    assert boss.post(f"{BASE}/queues", {"name": "Made by session"}).status_code == 201
    entry = AuditEntry.objects.filter(action="routing.queue_saved").latest("seq")
    assert entry.actor_ref == supervisor.pk
    for role in ("agent", "compliance_officer", "developer"):
        user = factory.staff(number.business, role)
        _error(Api(session=verified_session(user)).get(f"{BASE}/stats"), 403, 10)
    _error(Api().get(f"{BASE}/stats"), 401, 190)


def test_the_schema_documents_the_routing_endpoints(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path, method in [
        ("/parley/v1/routing/queues", "get"), ("/parley/v1/routing/queues", "post"),
        ("/parley/v1/routing/queues/{queue_id}", "patch"),
        ("/parley/v1/routing/agents", "get"), ("/parley/v1/routing/agents/{agent_id}", "patch"),
        ("/parley/v1/routing/sessions", "get"),
        ("/parley/v1/routing/sessions/{session_id}/transfer", "post"),
        ("/parley/v1/routing/sessions/{session_id}/resolve", "post"),
        ("/parley/v1/routing/stats", "get"), ("/parley/v1/routing/service-levels", "get"),
    ]:  # fmt: skip
        assert method in paths[path], (path, method)
    transfer = paths["/parley/v1/routing/sessions/{session_id}/transfer"]["post"]
    assert {"400", "401", "403", "404", "409"} <= set(transfer["responses"])
    assert "409" in paths["/parley/v1/routing/queues"]["post"]["responses"]
    states = schema["components"]["schemas"]["RoutingSessionState"]["enum"]
    assert set(states) == {s.value for s in Session.State}
