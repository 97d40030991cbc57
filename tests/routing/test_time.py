"""What time changes, on the simulation clock: offers that lapse, agents who go idle or
offline (their unanswered conversations return to the queue), snoozes that end, priority
ageing, SLA breaches; and the statistics supervisors read, against hand-computed
scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parley.core.clock import FrozenClock
from parley.core.models import StreamEntry
from routing import selectors
from routing.actions.agents import do_record_heartbeat, do_set_agent_status
from routing.actions.replies import do_reply
from routing.actions.sessions import do_resolve_session, do_snooze_session
from routing.actions.setup import do_save_queue, do_save_rule, do_save_sla_policy
from routing.actions.sweeps import do_sweep_routing
from routing.models import Agent, Session, SlaBreach
from tests.routing.conftest import Team, agent_of, consume, new_customer, write

pytestmark = pytest.mark.django_db


def session_of(message: Any) -> Session:
    return Session.objects.get(conversation=message.conversation)


def test_an_offer_not_taken_in_time_moves_on_and_the_agent_is_set_away(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    do_save_queue(supervisor, name="General", is_default=True, offer_timeout_s=30)
    first = team.agent()
    message = write(number)
    consume()
    second = team.agent()
    assert session_of(message).agent == agent_of(first)
    frozen_clock.advance(seconds=29)
    do_record_heartbeat(first, active=True)
    do_record_heartbeat(second, active=True)
    do_sweep_routing()
    assert session_of(message).agent == agent_of(first)  # not yet
    frozen_clock.advance(seconds=2)
    do_sweep_routing()
    session = session_of(message)
    assert session.state == Session.State.OFFERED and session.agent == agent_of(second)
    lapsed = agent_of(first)
    assert (lapsed.status, lapsed.status_reason, lapsed.load) == ("away", "offer_timeout", 0)
    unassigned = StreamEntry.objects.get(name="conversation.unassigned", user_id=first.pk)
    assert unassigned.payload["reason"] == "offer_timeout"


def test_an_idle_agent_returns_unanswered_conversations_and_keeps_answered_ones(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    do_save_queue(supervisor, name="General", is_default=True, offer_timeout_s=600)
    idle = team.agent(capacity=2)
    answered, unanswered = write(number), write(number)
    consume()
    assert agent_of(idle).load == 2
    do_reply(idle, answered.conversation_id, text="Hi!")
    consume()
    busy = team.agent()
    for _ in range(4):  # the other agent keeps working; the first one stops
        frozen_clock.advance(seconds=20)
        do_record_heartbeat(idle, active=False)
        do_record_heartbeat(busy, active=True)
        do_sweep_routing()
    agent = agent_of(idle)
    assert (agent.status, agent.status_reason) == ("away", "idle")
    assert session_of(answered).agent == agent  # answered: stays
    assert session_of(unanswered).agent == agent_of(busy)
    assert agent.load == 1
    # Activity brings back an agent the sweep had set away.
    do_record_heartbeat(idle, active=True)
    assert agent_of(idle).status == "available"


def test_an_agent_whose_console_went_silent_goes_offline(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    gone = team.agent()
    message = write(number)
    consume()
    frozen_clock.advance(seconds=121)
    stays = team.agent()
    do_sweep_routing()
    assert agent_of(gone).status == "offline"
    assert agent_of(gone).status_reason == "disconnected"
    assert session_of(message).agent == agent_of(stays)
    assert selectors.presence_of(agent_of(gone)) == "offline"
    assert selectors.presence_of(agent_of(stays)) == "online"


def test_going_away_returns_unanswered_and_becoming_available_pulls_waiting(
    team: Team, number: Any
) -> None:
    alice = team.agent()
    message = write(number)
    consume()
    do_set_agent_status(alice, Agent.Status.AWAY)
    assert session_of(message).state == Session.State.WAITING
    do_set_agent_status(alice, Agent.Status.AVAILABLE)
    assert session_of(message).agent == agent_of(alice)


def test_a_snoozed_session_frees_capacity_and_wakes_on_time_or_on_a_message(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    alice = team.agent(capacity=1)
    customer = new_customer()
    first = write(number, customer)
    consume()
    session = session_of(first)
    do_snooze_session(alice, session.pk, frozen_clock.now() + dt.timedelta(hours=1))
    assert agent_of(alice).load == 0
    other = write(number)
    consume()
    assert session_of(other).agent == agent_of(alice)  # the freed capacity was used
    do_resolve_session(alice, session_of(other).pk)
    frozen_clock.advance(minutes=61)
    do_record_heartbeat(alice, active=True)
    do_sweep_routing()
    assert session_of(first).state == Session.State.OFFERED
    # A customer's message wakes a snoozed session at once.
    do_snooze_session(alice, session.pk, frozen_clock.now() + dt.timedelta(hours=5))
    write(number, customer, text="any news?")
    consume()
    assert session_of(first).state == Session.State.OFFERED


def test_waiting_sessions_age_into_higher_priority(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    queue = do_save_queue(
        supervisor, name="General", is_default=True, escalate_after_s=60, max_priority=3
    )
    message = write(number)
    consume()
    assert session_of(message).priority == 0
    frozen_clock.advance(seconds=150)
    do_sweep_routing()
    assert session_of(message).priority == 2
    frozen_clock.advance(minutes=30)
    do_sweep_routing()
    assert session_of(message).priority == queue.max_priority


def test_sla_breaches_are_recorded_once_and_announced(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    policy = do_save_sla_policy(supervisor, name="Fast", first_response_s=30, next_response_s=60)
    do_save_queue(supervisor, name="General", is_default=True, sla_policy_id=policy.pk)
    alice = team.agent()
    customer = new_customer()
    message = write(number, customer)
    consume()
    frozen_clock.advance(seconds=31)
    do_record_heartbeat(alice, active=True)
    do_sweep_routing()
    do_sweep_routing()
    breach = SlaBreach.objects.get()
    assert breach.kind == "first_response"
    assert breach.due_at == session_of(message).opened_at + dt.timedelta(seconds=30)
    assert breach.agent == agent_of(alice)
    announced = StreamEntry.objects.filter(name="routing.sla_breached")
    # Once to supervisors, once to the agent holding the session.
    assert sorted(announced.values_list("user_id", flat=True), key=str) == [alice.pk, None]
    # Answered, then the customer writes again and waits past the next-response target.
    do_reply(alice, message.conversation_id, text="Sorry for the wait")
    consume()
    frozen_clock.advance(seconds=5)
    write(number, customer, text="still broken")
    consume()
    frozen_clock.advance(seconds=61)
    do_record_heartbeat(alice, active=True)
    do_sweep_routing()
    assert sorted(SlaBreach.objects.values_list("kind", flat=True)) == [
        "first_response",
        "next_response",
    ]


def test_a_late_first_response_is_a_breach_even_before_the_sweep_sees_it(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    policy = do_save_sla_policy(supervisor, name="Fast", first_response_s=30)
    do_save_queue(supervisor, name="General", is_default=True, sla_policy_id=policy.pk)
    alice = team.agent()
    message = write(number)
    consume()
    frozen_clock.advance(seconds=45)
    do_reply(alice, message.conversation_id, text="Here now")
    consume()
    assert SlaBreach.objects.get().kind == "first_response"


def test_queue_statistics_equal_a_hand_computed_scenario(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    do_save_queue(supervisor, name="General", is_default=True)
    billing = do_save_queue(supervisor, name="Billing", skills={"billing": 2})
    do_save_rule(supervisor, kind="keyword", value="invoice", queue_id=billing.pk)
    general = team.agent(capacity=2)  # General only
    biller = team.agent(capacity=3, skills={"billing": 3})  # both queues
    team.agent(capacity=4, skills={"billing": 1})  # not eligible for Billing (1 < 2)
    team.agent(capacity=5, skills={"billing": 5}, status=Agent.Status.AWAY)  # eligible, away
    do_set_agent_status(general, Agent.Status.BUSY)
    # Four billing questions at t=0, 10, 20, 30 s: the biller takes three, one waits.
    for _ in range(4):
        write(number, text="my invoice")
        consume()
        frozen_clock.advance(seconds=10)
    frozen_clock.advance(seconds=50)  # now = 90 s after the first message
    stats = {s.name: s for s in selectors.queue_stats(number.business)}
    b = stats["Billing"]
    assert (b.waiting, b.offered, b.active) == (1, 3, 0)
    assert b.longest_waiting_s == 60  # the fourth, written at 30 s
    assert b.eligible_agents == 2  # the biller and the away expert
    assert b.available_agents == 0  # the biller is full, the expert away
    assert (b.load, b.capacity) == (3, 3 + 5)
    g = stats["General"]
    assert (g.waiting, g.eligible_agents, g.available_agents) == (0, 4, 1)
    assert (g.load, g.capacity) == (3, 2 + 3 + 4 + 5)
    assert biller is not None


def test_service_levels_equal_a_hand_computed_scenario(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    start = frozen_clock.now()
    alice = team.agent(team="North")
    bob = team.agent(team="South", status=Agent.Status.AWAY)
    # Alice answers in 10 s and 40 s; Bob (once available) in 100 s; one is abandoned.
    m1 = write(number)
    consume()
    frozen_clock.advance(seconds=10)
    do_reply(alice, m1.conversation_id, text="a")
    m2 = write(number)
    consume()
    frozen_clock.advance(seconds=40)
    do_reply(alice, m2.conversation_id, text="b")
    do_set_agent_status(alice, Agent.Status.BUSY)
    do_set_agent_status(bob, Agent.Status.AVAILABLE)
    m3 = write(number)
    consume()
    frozen_clock.advance(seconds=100)
    do_reply(bob, m3.conversation_id, text="c")
    do_set_agent_status(bob, Agent.Status.BUSY)
    m4 = write(number)
    consume()
    from parley.messaging.actions import do_close_windows

    frozen_clock.advance(hours=25)
    do_close_windows()
    consume()
    assert session_of(m4).state == Session.State.ABANDONED
    levels = {
        s.label: s
        for s in selectors.service_levels(number.business, since=start, by="agent", target_s=30)
    }
    a = levels[alice.full_name]
    assert (a.sessions, a.answered, a.first_response_avg_s) == (2, 2, 25.0)
    assert a.within_target == 0.5
    assert levels[bob.full_name].first_response_avg_s == 100.0
    assert levels["(never assigned)"].abandoned == 1
    everyone = selectors.service_levels(number.business, since=start, by="all")[0]
    assert (everyone.sessions, everyone.answered, everyone.abandoned) == (4, 3, 1)
    assert everyone.within_target == 0.25
    assert everyone.within_24h == 0.75
    assert everyone.first_response_p50_s == 40.0
    by_team = selectors.service_levels(number.business, since=start, by="team")
    teams = {s.label: s.sessions for s in by_team}
    assert teams == {"North": 2, "South": 1, "(no team)": 1}


def test_resolving_a_snoozed_session_does_not_free_capacity_twice(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    alice = team.agent(capacity=2)
    first, second = write(number), write(number)
    consume()
    do_snooze_session(alice, session_of(first).pk, frozen_clock.now() + dt.timedelta(hours=1))
    assert agent_of(alice).load == 1
    do_resolve_session(alice, session_of(first).pk)
    assert agent_of(alice).load == 1  # still holding the second
    assert session_of(second).state == Session.State.OFFERED


def test_a_deactivated_agent_goes_offline_and_hands_back_everything(
    team: Team, number: Any, factory: Any
) -> None:
    from parley.accounts.actions.staff import do_set_active

    leaving = team.agent()
    answered, unanswered = write(number), write(number)
    consume()
    do_reply(leaving, answered.conversation_id, text="hello")
    consume()
    staying = team.agent()
    admin = factory.staff(number.business, "administrator")
    do_set_active(admin, [leaving.pk], False)
    consume()
    agent = agent_of(leaving)
    assert (agent.status, agent.status_reason, agent.load) == ("offline", "deactivated", 0)
    assert session_of(answered).agent == agent_of(staying)
    assert session_of(unanswered).agent == agent_of(staying)
