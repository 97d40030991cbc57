"""Routing in the database: customers write, the routing consumer queues their sessions and
offers each to the most suitable available agent within capacity; freed capacity pulls
the oldest waiting; skills, proficiency and language decide eligibility; transfers; and
the events each step publishes on the durable stream, addressed to the right agent."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from parley.core.clock import FrozenClock
from parley.core.errors import Conflict, PermissionDenied
from parley.core.models import StreamEntry
from routing.actions.sessions import (
    do_accept_session,
    do_resolve_session,
    do_route_waiting,
    do_take_session,
    do_transfer_session,
)
from routing.actions.setup import do_save_queue, do_save_rule
from routing.models import Agent, Session, SessionLog
from tests.routing.conftest import Team, agent_of, consume, new_customer, write

pytestmark = pytest.mark.django_db


def session_of(message: Any) -> Session:
    return Session.objects.get(conversation=message.conversation)


def holder(message: Any) -> int | None:
    session = session_of(message)
    return session.agent.user_id if session.agent else None


def test_a_customer_message_is_offered_to_an_available_agent_at_once(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    alice = team.agent()
    message = write(number, text="Where is my parcel?")
    consume()
    session = session_of(message)
    assert session.state == Session.State.OFFERED
    assert session.agent == agent_of(alice)
    assert session.queue.name == "General" and session.queue.is_default
    assert session.assigned_at == frozen_clock.now()
    assert agent_of(alice).load == 1
    # The offer is announced to Alice alone; supervisors see the routing change.
    assigned = StreamEntry.objects.get(name="conversation.assigned")
    assert assigned.user_id == alice.pk
    assert assigned.payload["conversation_id"] == message.conversation_id
    changes = list(
        StreamEntry.objects.filter(name="routing.session_changed")
        .order_by("id")
        .values_list("payload__change", flat=True)
    )
    assert changes == ["queued", "offered"]


def test_nobody_available_leaves_the_session_waiting(team: Team, number: Any) -> None:
    team.agent(status=Agent.Status.AWAY)
    team.agent(status=Agent.Status.BUSY)
    message = write(number)
    consume()
    assert session_of(message).state == Session.State.WAITING
    assert not StreamEntry.objects.filter(name="conversation.assigned").exists()


def test_least_loaded_by_load_ratio_with_ties_to_the_longest_since_last_assignment(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    big = team.agent(capacity=10)
    small = team.agent(capacity=2)
    order = []
    for _ in range(6):
        frozen_clock.advance(seconds=1)
        message = write(number)
        consume()
        order.append(holder(message))
    # big 0/10 vs small 0/2: a tie, to the lower id (neither was ever assigned); then the
    # lower ratio: small 0/2 < big 1/10; big 1/10 < small 1/2; big 2/10 < 1/2 ...
    assert order == [big.pk, small.pk, big.pk, big.pk, big.pk, big.pk]
    assert agent_of(big).load == 5 and agent_of(small).load == 1


def test_equal_ratios_go_to_the_agent_longest_since_their_last_assignment(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    first, second = team.agent(), team.agent()
    picks = []
    for _ in range(4):
        frozen_clock.advance(seconds=5)
        message = write(number)
        consume()
        picks.append(holder(message))
    assert picks == [first.pk, second.pk, first.pk, second.pk]


def test_capacity_is_never_exceeded_and_freed_capacity_pulls_the_oldest_waiting(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    solo = team.agent(capacity=2)
    messages = []
    for _ in range(5):
        frozen_clock.advance(seconds=10)
        messages.append(write(number))
        consume()
    states = [session_of(m).state for m in messages]
    assert states == ["offered", "offered", "waiting", "waiting", "waiting"]
    assert agent_of(solo).load == 2
    do_resolve_session(solo, session_of(messages[0]).pk)
    # The oldest waiting conversation (the third) is offered at once, not the newest.
    assert session_of(messages[2]).state == Session.State.OFFERED
    assert session_of(messages[2]).agent == agent_of(solo)
    assert [session_of(m).state for m in messages[3:]] == ["waiting", "waiting"]
    assert agent_of(solo).load == 2


def test_a_backlog_waiting_for_full_agents_is_not_read_again_for_each_new_message(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    solo = team.agent(capacity=1)
    backlog = []
    for _ in range(4):
        frozen_clock.advance(seconds=10)
        backlog.append(write(number))
    consume()
    assert [session_of(m).state for m in backlog] == ["offered", *["waiting"] * 3]
    with CaptureQueriesContext(connection) as queries:
        assert do_route_waiting(number.business_id) == 0
    assert not [q for q in queries if "routing_session" in q["sql"]]
    # Room again: the oldest waiting session is read and offered.
    do_resolve_session(solo, session_of(backlog[0]).pk)
    assert session_of(backlog[1]).agent == agent_of(solo)
    assert [session_of(m).state for m in backlog[2:]] == ["waiting", "waiting"]


def test_higher_priority_queues_are_served_first(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    vip = do_save_queue(supervisor, name="VIP", priority=5)
    do_save_rule(supervisor, kind="keyword", value="platinum", queue_id=vip.pk)
    normal = write(number, text="hello")
    frozen_clock.advance(seconds=30)
    urgent = write(number, text="I am a platinum member")
    consume()  # nobody is available yet: both wait
    assert session_of(urgent).queue == vip
    solo = team.agent(capacity=1)  # becoming available pulls the best waiting session
    assert session_of(urgent).agent == agent_of(solo)
    assert session_of(normal).state == Session.State.WAITING


def test_skills_proficiency_and_language_decide_who_is_eligible(
    team: Team, number: Any, supervisor: Any, frozen_clock: FrozenClock
) -> None:
    billing = do_save_queue(supervisor, name="Billing", skills={"billing": 3})
    hindi = do_save_queue(supervisor, name="Hindi", language="hi")
    do_save_rule(supervisor, kind="keyword", value="invoice", queue_id=billing.pk)
    do_save_rule(supervisor, kind="keyword", value="namaste", queue_id=hindi.pk)
    novice = team.agent(skills={"billing": 2})
    expert = team.agent(skills={"billing": 4})
    speaker = team.agent(languages=["en", "hi"])
    frozen_clock.advance(seconds=1)
    about_invoice = write(number, text="My invoice is wrong")
    frozen_clock.advance(seconds=1)
    in_hindi = write(number, text="Namaste, I need help")
    consume()
    assert holder(about_invoice) == expert.pk  # the novice (2 < 3) is not eligible
    assert holder(in_hindi) == speaker.pk
    assert agent_of(novice).load == 0


def test_no_eligible_agent_leaves_only_that_queue_waiting(
    team: Team, number: Any, supervisor: Any
) -> None:
    legal = do_save_queue(supervisor, name="Legal", skills={"legal": 1})
    do_save_rule(supervisor, kind="keyword", value="lawyer", queue_id=legal.pk)
    general = team.agent()
    stuck = write(number, text="I want a lawyer")
    served = write(number, text="hi")
    consume()
    assert session_of(stuck).state == Session.State.WAITING
    assert holder(served) == general.pk


def test_country_rule_and_template_button_rule(team: Team, number: Any, supervisor: Any) -> None:
    from parley.messaging.actions import do_record_inbound_message
    from parley.messaging.content import InteractiveReply

    uk = do_save_queue(supervisor, name="UK desk")
    renewals = do_save_queue(supervisor, name="Renewals", priority=2)
    do_save_rule(supervisor, kind="country", value="GB", queue_id=uk.pk)
    do_save_rule(supervisor, kind="button", value="renew-now", queue_id=renewals.pk)
    british = write(number, customer="+447400123456")
    tapped = do_record_inbound_message(
        number, new_customer(), InteractiveReply(id="renew-now", title="Renew"),
        envelope_guid="tap-1",
    )  # fmt: skip
    consume()
    assert session_of(british).queue == uk
    assert session_of(tapped).queue == renewals
    assert session_of(tapped).priority == 2


def test_further_messages_stay_with_the_agent_and_count_unread(team: Team, number: Any) -> None:
    alice = team.agent()
    team.agent()
    customer = new_customer()
    first = write(number, customer)
    consume()
    write(number, customer, text="are you there?")
    consume()
    session = session_of(first)
    assert session.agent == agent_of(alice)
    assert session.unread == 2
    assert Session.objects.filter(conversation=first.conversation).count() == 1


def test_an_agent_answers_only_their_own_conversations(team: Team, number: Any) -> None:
    alice, bob = team.agent(capacity=1), team.agent(capacity=1)
    message = write(number)
    consume()
    session = session_of(message)
    mine, other = (alice, bob) if session.agent == agent_of(alice) else (bob, alice)
    with pytest.raises(PermissionDenied):
        do_accept_session(other, session.pk)
    with pytest.raises(PermissionDenied):
        do_resolve_session(other, session.pk)
    assert do_accept_session(mine, session.pk).state == Session.State.ACTIVE


def test_transfer_to_an_agent_with_a_note_and_to_a_queue(
    team: Team, number: Any, supervisor: Any
) -> None:
    alice = team.agent()
    message = write(number)
    consume()
    session = session_of(message)
    bob = team.agent()
    do_transfer_session(alice, session.pk, to_agent_user_id=bob.pk, note="Wants a refund")
    session.refresh_from_db()
    assert session.agent == agent_of(bob) and session.state == Session.State.OFFERED
    assert agent_of(alice).load == 0 and agent_of(bob).load == 1
    offer = StreamEntry.objects.filter(name="conversation.assigned", user_id=bob.pk).get()
    assert offer.payload["note"] == "Wants a refund" and offer.payload["reason"] == "transfer"
    gone = StreamEntry.objects.get(name="conversation.unassigned", user_id=alice.pk)
    assert gone.payload["reason"] == "transfer"
    assert SessionLog.objects.filter(session=session, kind="transferred").get().note == (
        "Wants a refund"
    )
    # To a queue only specialists serve: Bob lets go, nobody eligible, it waits there.
    refunds = do_save_queue(supervisor, name="Refunds", skills={"refunds": 1})
    do_transfer_session(supervisor, session.pk, to_queue_id=refunds.pk)
    session.refresh_from_db()
    assert session.state == Session.State.WAITING and session.queue == refunds
    assert agent_of(bob).load == 0
    carol = team.agent(skills={"refunds": 2})
    session.refresh_from_db()
    assert session.agent == agent_of(carol)


def test_transfer_to_a_full_agent_is_refused_and_changes_nothing(team: Team, number: Any) -> None:
    alice = team.agent()
    full = team.agent(capacity=1, status=Agent.Status.BUSY)
    Agent.objects.filter(user=full).update(load=1)
    message = write(number)
    consume()
    session = session_of(message)
    with pytest.raises(Conflict):
        do_transfer_session(alice, session.pk, to_agent_user_id=full.pk)
    session.refresh_from_db()
    assert session.agent == agent_of(alice) and agent_of(alice).load == 1


def test_taking_a_waiting_conversation_respects_capacity(team: Team, number: Any) -> None:
    taker = team.agent(capacity=1, status=Agent.Status.BUSY)
    first, second = write(number), write(number)
    consume()
    assert do_take_session(taker, session_of(first).pk).state == Session.State.ACTIVE
    with pytest.raises(Conflict):
        do_take_session(taker, session_of(second).pk)
    assert session_of(second).state == Session.State.WAITING


def test_an_answer_accepts_the_offer_and_records_the_first_response(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    from routing.actions.replies import do_reply

    alice = team.agent()
    message = write(number)
    consume()
    frozen_clock.advance(seconds=12)
    do_reply(alice, message.conversation_id, text="Hello, Alice here")
    consume()
    session = session_of(message)
    assert session.state == Session.State.ACTIVE
    assert session.first_response_at is not None
    assert (session.first_response_at - session.opened_at).total_seconds() == 12
    assert session.awaiting_since is None and session.unread == 0


def test_answers_read_together_keep_each_sessions_first_and_last_response_and_their_order(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    """Many business messages in one batch of the stream: each session's first response is
    its earliest answer and its last the latest; a customer writing again between two
    answers is counted after the first and answered by the second; a message to a
    conversation no session holds changes nothing."""
    from parley.messaging.actions import do_send_message
    from parley.messaging.content import Text

    team.agent(capacity=5)
    one, two = write(number), write(number)
    consume()
    opened = session_of(one).opened_at
    frozen_clock.advance(seconds=5)
    do_send_message(number, one.conversation.customer, Text("a"), deliver=False)
    frozen_clock.advance(seconds=5)
    do_send_message(number, two.conversation.customer, Text("b"), deliver=False)
    do_send_message(number, new_customer(), Text("nobody's session"), deliver=False)
    frozen_clock.advance(seconds=5)
    write(number, one.conversation.customer, text="and another thing")
    frozen_clock.advance(seconds=5)
    do_send_message(number, one.conversation.customer, Text("c"), deliver=False)
    do_send_message(number, two.conversation.customer, Text("d"), deliver=False)
    consume()  # one batch: every event since the sessions opened
    first, second = session_of(one), session_of(two)

    def after(at: Any) -> float:
        return float((at - opened).total_seconds())

    assert (after(first.first_response_at), after(first.last_response_at)) == (5, 20)
    assert (after(second.first_response_at), after(second.last_response_at)) == (10, 20)
    assert first.awaiting_since is None and first.unread == 0
    assert Session.objects.count() == 2


def test_a_closed_window_resolves_an_answered_session_and_abandons_an_unanswered_one(
    team: Team, number: Any, frozen_clock: FrozenClock
) -> None:
    from parley.messaging.actions import do_close_windows
    from routing.actions.replies import do_reply

    alice = team.agent()
    answered, ignored = write(number), write(number)
    consume()
    do_reply(alice, answered.conversation_id, text="On it")
    frozen_clock.advance(hours=24, seconds=1)
    do_close_windows()
    consume()
    assert session_of(answered).state == Session.State.RESOLVED
    assert session_of(ignored).state == Session.State.ABANDONED
    assert agent_of(alice).load == 0
