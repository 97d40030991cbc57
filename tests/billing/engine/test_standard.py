"""RCS standard model, rule by rule (seed 002 and its worked examples)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.engine import BillingModel, Content, EventType, Suggestions, rate
from billing.engine.standard import a2p_event_type, is_mo_message
from tests.billing.engine.factories import (
    A2P,
    BRAZIL,
    CONV,
    INDIA,
    LATER,
    NON_CONV,
    P2A,
    at,
    fact,
    rate_summary,
    script,
)

BASIC = "basic_message"
SINGLE = "single_message"
A2P_CONV = "a2p_conversation"
P2A_CONV = "p2a_conversation"
P2A_MSG = "p2a_message"

# (case, script for a conversational agent, expected (event type, members) in start order)
CONVERSATIONAL_CASES = [
    ("A2P without reply is its own event", "a1@0", [(BASIC, ("a1",))]),
    ("reply within 24 h opens an a2p_conversation", "a1@0 p1@3", [(A2P_CONV, ("a1", "p1"))]),
    ("reply at exactly 24 h still opens it", "a1@0 p1@24", [(A2P_CONV, ("a1", "p1"))]),
    (
        "seed: several A2P before one reply, only the last opens the conversation",
        "a1@0 a2@1 a3@2 p1@3",
        [(BASIC, ("a1",)), (BASIC, ("a2",)), (A2P_CONV, ("a3", "p1"))],
    ),
    (
        "conversation holds everything delivered up to 24 h after the reply",
        "a1@0 p1@10 a2@20 p2@33 a3@34 a4@34.5",
        [(A2P_CONV, ("a1", "p1", "a2", "p2", "a3")), (BASIC, ("a4",))],
    ),
    (
        "seed: reply after 24 h opens nothing",
        "a1@0 p1@25",
        [(BASIC, ("a1",)), (P2A_MSG, ("p1",))],
    ),
    (
        "seed: late reply answered by the agent within 24 h is a p2a_conversation",
        "a1@0 p1@25 a2@30",
        [(BASIC, ("a1",)), (P2A_CONV, ("p1", "a2"))],
    ),
    ("agent reply within 24 h opens a p2a_conversation", "p1@0 a1@5", [(P2A_CONV, ("p1", "a1"))]),
    (
        "p2a_conversation holds everything up to 24 h after the agent's reply",
        "p1@0 a1@20 p2@30 a2@44",
        [(P2A_CONV, ("p1", "a1", "p2", "a2"))],
    ),
    (
        "p2a_conversation ends 24 h after the agent's reply, not after the P2A message",
        "p1@0 a1@20 p2@25 a2@44.0003",
        [(P2A_CONV, ("p1", "a1", "p2")), (BASIC, ("a2",))],
    ),
    (
        "only the last P2A before the agent's reply opens the conversation",
        "p1@0 p2@1 p3@2 a1@3",
        [(P2A_MSG, ("p1",)), (P2A_MSG, ("p2",)), (P2A_CONV, ("p3", "a1"))],
    ),
    (
        "agent reply after 24 h opens nothing",
        "p1@0 a1@25",
        [(P2A_MSG, ("p1",)), (BASIC, ("a1",))],
    ),
    (
        "a message already in a conversation never opens another",
        "a1@0 p1@1 a2@24 p2@26",
        [(A2P_CONV, ("a1", "p1", "a2")), (P2A_MSG, ("p2",))],
    ),
    (
        "after a conversation ends, a new one can open",
        "a1@0 p1@1 a2@30 p2@31",
        [(A2P_CONV, ("a1", "p1")), (A2P_CONV, ("a2", "p2"))],
    ),
    (
        "messages of one side only are all separate",
        "p1@0 p2@1 p3@2",
        [(P2A_MSG, ("p1",)), (P2A_MSG, ("p2",)), (P2A_MSG, ("p3",))],
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [pytest.param(steps, expected, id=case) for case, steps, expected in CONVERSATIONAL_CASES],
)
def test_conversational_agent(steps: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert rate_summary(script(steps, category=CONV)) == expected


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param("a1@0 p1@1 a2@2", [(BASIC, ("a1",)), (P2A_MSG, ("p1",)), (BASIC, ("a2",))]),
        pytest.param("p1@0 a1@1", [(P2A_MSG, ("p1",)), (BASIC, ("a1",))]),
        pytest.param("a1@0 a2@1 p1@2", [(BASIC, ("a1",)), (BASIC, ("a2",)), (P2A_MSG, ("p1",))]),
    ],
)
def test_non_conversational_agent_never_has_conversations(
    steps: str, expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    assert rate_summary(script(steps, category=NON_CONV)) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"text_bytes": 20}, EventType.BASIC_MESSAGE, id="short text"),
        pytest.param({"text_bytes": 160}, EventType.BASIC_MESSAGE, id="160 bytes"),
        pytest.param({"text_bytes": 161}, EventType.SINGLE_MESSAGE, id="161 bytes"),
        pytest.param(
            {"text_bytes": 40, "url_preview": True}, EventType.BASIC_MESSAGE, id="url preview"
        ),
        pytest.param(
            {"suggestions": Suggestions.BASIC}, EventType.SINGLE_MESSAGE, id="suggested reply"
        ),
        pytest.param(
            {"suggestions": Suggestions.ADVANCED}, EventType.SINGLE_MESSAGE, id="suggested action"
        ),
        pytest.param({"content": Content.RICH_CARD}, EventType.SINGLE_MESSAGE, id="rich card"),
        pytest.param({"content": Content.MEDIA}, EventType.SINGLE_MESSAGE, id="media"),
    ],
)
def test_a2p_basic_or_single(kwargs: dict[str, object], expected: EventType) -> None:
    message = fact("a1", A2P, 0, **kwargs)  # type: ignore[arg-type]
    assert a2p_event_type(message) is expected
    (event,) = rate([message], now=LATER).events
    assert event.event_type is expected
    assert event.model is BillingModel.STANDARD


def test_emoji_text_counts_bytes_not_characters() -> None:
    # 41 emoji = 41 characters but 164 UTF-8 bytes: over the basic limit.
    assert a2p_event_type(fact("a1", text_bytes=len(("😀" * 41).encode()))) is (
        EventType.SINGLE_MESSAGE
    )


# Each kind of user action, after an A2P message, for a conversational agent.
@pytest.mark.parametrize(
    ("content", "is_mo"),
    [
        pytest.param(Content.TEXT, True, id="sends a message"),
        pytest.param(Content.MEDIA, True, id="sends a file"),
        pytest.param(Content.SUGGESTED_REPLY_TAP, True, id="taps a suggested reply"),
        pytest.param(Content.LOCATION_SHARE, True, id="shares a location"),
        pytest.param(Content.STOP_START, True, id="automatic STOP/START message"),
        pytest.param(Content.SUGGESTED_ACTION_TAP, False, id="taps a suggested action"),
        pytest.param(Content.SUBSCRIPTION_EVENT, False, id="subscribe/unsubscribe event"),
    ],
)
def test_user_actions(content: Content, is_mo: bool) -> None:
    assert is_mo_message(content) is is_mo
    facts = [fact("a1", A2P, 0), fact("u1", P2A, 1, content=content)]
    expected: list[tuple[str, tuple[str, ...]]]
    expected = [(A2P_CONV, ("a1", "u1"))] if is_mo else [(BASIC, ("a1",))]
    assert rate_summary(facts) == expected
    # Non-conversational: an MO action is a p2a_message, the others are not billed.
    alone = rate_summary([fact("u1", P2A, 1, content=content, category=NON_CONV)])
    assert alone == ([(P2A_MSG, ("u1",))] if is_mo else [])


def test_non_mo_action_inside_conversation_is_not_a_member() -> None:
    facts = [
        fact("a1", A2P, 0),
        fact("p1", P2A, 1),
        fact("tap", P2A, 2, content=Content.SUGGESTED_ACTION_TAP),
    ]
    assert rate_summary(facts) == [(A2P_CONV, ("a1", "p1"))]


def test_conversations_are_per_agent_and_customer() -> None:
    facts = [
        fact("a1", A2P, 0, customer=INDIA),
        fact("p1", P2A, 1, customer=BRAZIL),  # another customer replies: no conversation
        fact("a2", A2P, 2, agent="agent-2"),
        fact("p2", P2A, 3, agent="agent-1"),  # reply goes to agent-1, whose last A2P is a1
    ]
    assert rate_summary(facts) == [
        (A2P_CONV, ("a1", "p2")),
        (P2A_MSG, ("p1",)),
        (BASIC, ("a2",)),
    ]


def test_conversation_event_fields() -> None:
    facts = script("a1@0 p1@2 a2@3 p2@4", size_bytes=1536)
    (event,) = rate(facts, now=LATER).events
    assert event.event_type is EventType.A2P_CONVERSATION
    assert event.start == facts[0].delivered_at
    assert event.end == at(facts[1]) + timedelta(hours=24)  # 24 h after the reply
    assert event.duration.total_seconds() == (2 + 24) * 3600
    assert (event.mt_count, event.mo_count) == (2, 2)
    assert event.size_bytes == 4 * 1536
    assert event.size_kilobytes == 6.0
    assert event.country == "IN"
    assert event.chargeable


def test_p2a_conversation_runs_24_hours_from_the_agents_reply() -> None:
    # P2A at t0, the agent replies at t0+20 h: a message at t0+30 h is a member; the
    # window ends at t0+44 h, so a message at t0+44 h 1 s is not.
    facts = [
        fact("p1", P2A, 0),
        fact("a1", A2P, 20),
        fact("p2", P2A, 30),
        fact("p3", P2A, 44),
        fact("a2", A2P, 44 + 1 / 3600),
    ]
    conversation, after = sorted(rate(facts, now=LATER).events, key=lambda e: e.start)
    assert conversation.event_type is EventType.P2A_CONVERSATION
    assert conversation.message_ids == ("p1", "a1", "p2", "p3")
    assert conversation.start == at(facts[0])
    assert conversation.end == at(facts[1]) + timedelta(hours=24)
    assert conversation.final_at == conversation.end + timedelta(days=2)
    assert (after.event_type, after.message_ids) == (EventType.BASIC_MESSAGE, ("a2",))


def test_single_event_fields() -> None:
    (event,) = rate([fact("a1", A2P, 0, text_bytes=300)], now=LATER).events
    assert event.event_type is EventType.SINGLE_MESSAGE
    assert event.duration.total_seconds() == 0
    assert (event.mt_count, event.mo_count, event.size_bytes) == (1, 0, 300)
    assert event.message_ids == ("a1",)
