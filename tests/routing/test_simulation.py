"""`manage.py simulate_contact_centre` and routing.simulation: a small contact centre run on
the test database through the real actions and the routing consumer. The figures must be
what the database holds, capacity is never exceeded, and a seed gives the same figures."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from parley.accounts.models import Business
from parley.messaging.models import Conversation
from routing.models import Agent, Session, SessionLog
from routing.rules import Inbound, Rule, matches
from routing.selectors import service_levels
from routing.simulation import (
    TARGET_S,
    Config,
    Result,
    make_plan,
    parse_capacity,
    parse_languages,
    quantile,
    run_simulation,
    write_outputs,
)
from tests.routing.conftest import Team

SVG = "{http://www.w3.org/2000/svg}"
# Small enough for a test, busy enough that agents reach their capacity and sessions wait.
SMALL = Config(agents=10, conversations=60, hours=0.25, seed=11, capacity=(1, 3), skills=3)


def bars(path: Path) -> int:
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg"
    return sum(1 for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar")


def business_of(result: Result) -> Business:
    return Business.objects.get(slug=result.run["business"])


def check_against_database(result: Result) -> None:
    figures = result.figures
    business = business_of(result)
    assert result.run["routing_failures"] == 0, result.run["routing_errors"]
    sessions = list(Session.objects.filter(business=business))
    # Every customer's conversation was opened as a session, once.
    conversations = set(Conversation.objects.filter(business=business).values_list("pk", flat=True))
    assert len(conversations) == SMALL.conversations
    assert {s.conversation_id for s in sessions} == conversations
    assert len(sessions) == figures["sessions"] == SMALL.conversations
    answered = [s for s in sessions if s.first_response_at is not None]
    abandoned = [s for s in sessions if s.state == Session.State.ABANDONED]
    open_unanswered = [
        s for s in sessions if s.state in Session.OPEN_STATES and s.first_response_at is None
    ]
    assert figures["answered"] == len(answered)
    assert figures["abandoned"] == len(abandoned)
    assert figures["still_open"] == len(open_unanswered)
    assert figures["answered"] + figures["abandoned"] + figures["still_open"] == SMALL.conversations
    assert figures["answered"] > 0.9 * SMALL.conversations

    # The first-response distribution is the Session rows'.
    first = [(s.first_response_at - s.opened_at).total_seconds() for s in answered
             if s.first_response_at is not None]  # fmt: skip
    report = figures["first_response_s"]
    assert report["p50"] == quantile(first, 0.5)
    assert report["p99"] == quantile(first, 0.99)
    assert report["count"] == len(first)
    assert sum(n for _, n in report["buckets"]) == len(first)
    # ... and agrees with routing's own service levels for the period.
    start = dt.datetime.fromisoformat(result.run["start"])
    (everyone,) = service_levels(
        business, since=start, until=start + dt.timedelta(days=3), by="all", target_s=TARGET_S
    )
    assert everyone.sessions == figures["sessions"]
    assert everyone.answered == figures["answered"]
    assert everyone.first_response_p50_s == report["p50"]
    assert everyone.first_response_p90_s == report["p90"]
    assert everyone.within_target == pytest.approx(report["within_target_share"], abs=1e-4)
    assert everyone.waiting_avg_s == pytest.approx(figures["waiting_s"]["avg"])

    # No agent ever held more than their capacity: from the session log and from the load
    # counter the run watched; some reached it (the test would prove nothing otherwise).
    load = figures["load"]
    assert load["over_capacity"] == 0
    for row in load["per_agent"]:
        assert row["max_load"] <= row["capacity"]
        assert row["max_load_counter"] <= row["capacity"]
    assert load["at_capacity"] > 0
    assert 0 < load["max_load_ratio"] <= 1
    # The shift ended: everyone signed off holding nothing.
    agents = Agent.objects.filter(business=business)
    assert agents.count() == SMALL.agents
    assert set(agents.values_list("status", flat=True)) == {Agent.Status.OFFLINE}
    assert set(agents.values_list("load", flat=True)) == {0}

    # Routing did its work: skill queues and the Hindi queue, offers that lapsed, agents
    # who went idle on a break; Hindi conversations went to Hindi speakers.
    queues = {q["queue"]: q for q in figures["queues"]}
    assert set(queues) == {"General", "Hindi", "Billing", "Orders", "Technical"}
    assert all(q["sessions"] > 0 for q in queues.values())
    assert sum(q["sessions"] for q in queues.values()) == figures["sessions"]
    for session in Session.objects.filter(business=business, queue__name="Hindi"):
        assert session.language == "hi"
        offered = SessionLog.objects.filter(session=session, kind="offered")
        assert offered.exists()
        speakers = offered.values_list("agent__languages", flat=True)
        assert all("hi" in languages for languages in speakers)
    assert figures["returns"].get("offer_timeout", 0) + figures["returns"].get("idle", 0) > 0
    assert 0 < figures["utilisation"]["average"] < 1
    teams = figures["utilisation"]["per_team"]
    assert sum(t["agents"] for t in teams) == SMALL.agents


@pytest.mark.django_db
@pytest.mark.timeout(1800)  # two runs of several hundred steps each; slow on a busy machine
def test_a_small_contact_centre_through_the_command_and_again_with_the_same_seed(
    tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "report"
    call_command(
        "simulate_contact_centre",
        "--agents", str(SMALL.agents), "--conversations", str(SMALL.conversations),
        "--hours", str(SMALL.hours), "--seed", str(SMALL.seed), "--capacity", "1-3",
        "--skills", "3", "--languages", "en,hi", "--out", str(out),
    )  # fmt: skip
    printed = capsys.readouterr()
    assert "first response: avg" in printed.out and "exceeded it" in printed.out
    assert "100% " in printed.err  # the progress bar reached the end (not a terminal: lines)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    first = Result(report["figures"], report["run"], SMALL)
    check_against_database(first)
    assert report["config"] == SMALL.as_dict()

    # The files a supervisor opens.
    assert {p.name for p in out.iterdir()} == {
        "report.json", "first_response.svg", "utilisation.svg", "queues.svg", "index.html",
    }  # fmt: skip
    assert bars(out / "first_response.svg") == 6
    assert bars(out / "utilisation.svg") == 1  # a quarter of an hour in 15-minute bars
    assert bars(out / "queues.svg") == len(report["figures"]["queues"]) == 5
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "report.json" in page

    # The same configuration and seed give the same figures (a new business, new rows).
    again = run_simulation(SMALL)
    assert again.run["business"] != report["run"]["business"]
    assert json.loads(json.dumps(again.figures)) == report["figures"]
    check_against_database(again)
    # Written by the module directly, the report is the command's, figure for figure.
    write_outputs(again, tmp_path / "again")
    rewritten = json.loads((tmp_path / "again" / "report.json").read_text(encoding="utf-8"))
    assert rewritten["figures"] == report["figures"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--agents", "0"], "--agents must be 1"),
        (["--conversations", "0"], "--conversations must be 1"),
        (["--hours", "0"], "--hours must be"),
        (["--hours", "nan"], "--hours must be"),
        (["--capacity", "0"], "--capacity must be"),
        (["--capacity", "15-10"], "--capacity must be"),
        (["--capacity", "ten"], "is not a capacity"),
        (["--skills", "9"], "--skills must be 0 to 8"),
        (["--languages", "en,xx"], "--languages takes"),
        (["--languages", "en:80,hi"], "Give every language a share"),
        (["--strategy", "linear_scan"], "invalid choice"),
        (["--agents", "many"], "is not a whole number"),
        (["--business", "nobody"], "No business with slug 'nobody'"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(
    arguments: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("simulate_contact_centre", *arguments, "--out", str(tmp_path / "out"))
    assert not Business.objects.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.django_db
def test_it_refuses_to_run_beside_agents_of_other_businesses_at_work(
    team: Team, tmp_path: Path
) -> None:
    team.agent()  # available in another business: the sweeps would act on them
    businesses = Business.objects.count()
    with pytest.raises(CommandError, match="--force"):
        call_command("simulate_contact_centre", "--agents", "2", "--conversations", "5",
                     "--hours", "0.25", "--seed", "1", "--out", str(tmp_path))  # fmt: skip
    assert Business.objects.count() == businesses


def test_the_plan_comes_from_the_seed_and_the_middle_of_the_day_is_busiest() -> None:
    config = Config(agents=50, conversations=3000, hours=8.0, seed=5, skills=4)
    plan = make_plan(config)
    assert plan == make_plan(config)
    assert plan != make_plan(Config(agents=50, conversations=3000, hours=8.0, seed=6, skills=4))
    span = config.hours * 3600
    times = [c.at for c in plan.conversations]
    assert times == sorted(times) and times[0] >= 0 and times[-1] < span
    thirds = [sum(1 for t in times if k * span / 3 <= t < (k + 1) * span / 3) for k in range(3)]
    assert thirds[1] > 1.4 * thirds[0] and thirds[1] > 1.4 * thirds[2]
    hindi = [c for c in plan.conversations if c.language == "hi"]
    assert 0.1 < len(hindi) / len(times) < 0.2
    assert all(c.texts[0].startswith("नमस्ते") for c in hindi)
    # Every skill has agents proficient enough for its queue (minimum 2), and Hindi speakers.
    for skill, _, _ in plan.skills:
        assert sum(1 for a in plan.agents if a.skills.get(skill, 0) >= 2) >= 5
    assert 10 <= sum(1 for a in plan.agents if "hi" in a.languages) < 50
    assert all(a.capacity == 15 and a.languages[0] == "en" for a in plan.agents)


def test_capacity_and_language_options() -> None:
    assert parse_capacity("15") == (15, 15)
    assert parse_capacity(" 10-15 ") == (10, 15)
    assert parse_languages("en,hi") == (("en", 0.85), ("hi", pytest.approx(0.15)))
    assert parse_languages("en:70,hi:20,es:10") == (
        ("en", pytest.approx(0.7)), ("hi", pytest.approx(0.2)), ("es", pytest.approx(0.1)),
    )  # fmt: skip
    assert parse_languages("en") == (("en", 1.0),)


def test_a_keyword_in_devanagari_matches_as_a_whole_word() -> None:
    """Combining marks (vowel signs, virama) belong to the word they are in."""
    rule = Rule("keyword", "नमस्ते")
    assert matches(rule, Inbound(text="नमस्ते, मुझे मदद चाहिए।"))
    assert not matches(rule, Inbound(text="नमस, मुझे मदद चाहिए।"))
    assert matches(Rule("keyword", "रिफंड"), Inbound(text="मेरा रिफंड कब आएगा?"))
