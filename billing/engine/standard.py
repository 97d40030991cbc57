"""RCS standard billing model (customers outside the US).

Per (agent, customer) key, facts arrive in delivery order. Non-conversational agents pay
per message. Conversational agents pay per conversation: a reply within 24 h to the last
message of the other side, outside a conversation, opens one.

Readings of the rules (seed 002 and the public RBM billing FAQ), decided here:

* All times are delivery times (for P2A messages: when the platform received them).
* "Within 24 h" and "in the 24 h after" both include the 24 h mark itself.
* Both conversations run 24 h from the reply that opens them: "a conversation begins when
  either the agent or the user responds within 24 hours to a message from the other party
  ... and remains active for the next 24 hours". a2p_conversation: opened by the last A2P
  message before the user's reply; holds it and everything delivered up to 24 h after the
  user's reply. p2a_conversation: opened by the last P2A message before the agent's reply;
  holds it and everything delivered up to 24 h after the agent's reply.
* A message that belonged to a conversation never opens another one: it is already billed.
* A standalone event of a conversational agent may still turn into a conversation if a
  late reply arrives, so it stays provisional until 24 h + 2 days after its delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime

from billing.engine.events import (
    BillableEvent,
    BillingModel,
    EventStatus,
    EventType,
    event_id,
    single_message_event,
    status_at,
)
from billing.engine.facts import Content, Direction, MessageFact, Suggestions
from billing.engine.periods import FINALISATION_DELAY, WINDOW

BASIC_MAX_BYTES = 160

# User actions that are not MO messages: a suggested-action postback and the
# (un)subscribe webhook event. The automatic STOP/START message is an MO message.
NOT_MO = frozenset({Content.SUGGESTED_ACTION_TAP, Content.SUBSCRIPTION_EVENT})

_STANDALONE_HOLD = WINDOW + FINALISATION_DELAY
FINAL, PROVISIONAL = EventStatus.FINAL, EventStatus.PROVISIONAL
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_mo_message(content: Content) -> bool:
    """Whether a P2A fact of this content counts as an MO message in the standard model."""
    return content not in NOT_MO


def a2p_event_type(fact: MessageFact) -> EventType:
    """basic_message: text only, no suggestions, ≤ 160 UTF-8 bytes (a URL preview stays
    basic); otherwise single_message (rich card, media, any suggestion or longer text)."""
    if (
        fact.content is Content.TEXT
        and fact.suggestions is Suggestions.NONE
        and fact.text_bytes <= BASIC_MAX_BYTES
    ):
        return EventType.BASIC_MESSAGE
    return EventType.SINGLE_MESSAGE


def standalone_event(
    fact: MessageFact, country: str, now: datetime, *, conversational: bool
) -> BillableEvent:
    """The per-message event of a standard-model fact that is not in a conversation."""
    at = fact.delivered_at
    assert at is not None
    etype = a2p_event_type(fact) if fact.direction is Direction.A2P else EventType.P2A_MESSAGE
    return single_message_event(
        fact,
        etype,
        BillingModel.STANDARD,
        country,
        segments=0,
        reason="chargeable: per message",
        # A conversational agent's message may still join a conversation for 24 h.
        final_at=at + _STANDALONE_HOLD if conversational else at,
        now=now,
    )


class StandardRater:
    """Rates one (agent, customer) key at a time; ``start`` resets it for the next key.

    State is O(1): the open conversation (if any) and the one message that could still open
    a conversation (the last message outside a conversation).
    """

    __slots__ = (
        "_conv_end",
        "_conv_ids",
        "_conv_mo",
        "_conv_mt",
        "_conv_opener",
        "_conv_size",
        "_conv_start",
        "_conv_type",
        "_conversational",
        "_country",
        "_now",
        "_pending",
        "_pending_at",
    )

    def __init__(self) -> None:
        self._now: datetime | None = None
        self._country = ""
        self._conversational = False
        self._pending: MessageFact | None = None
        self._pending_at = _EPOCH
        self._conv_opener: MessageFact | None = None
        self._conv_start = _EPOCH
        self._conv_type = EventType.A2P_CONVERSATION
        self._conv_end: datetime | None = None
        self._conv_ids: list[str] = []
        self._conv_mt = 0
        self._conv_mo = 0
        self._conv_size = 0

    def start(self, country: str, conversational: bool, now: datetime) -> None:
        self._country = country
        self._conversational = conversational
        self._now = now
        self._pending = None
        self._conv_end = None

    def feed(self, fact: MessageFact, out: list[BillableEvent]) -> None:
        if fact.direction is Direction.P2A and fact.content in NOT_MO:
            return  # not billed, and opens nothing
        now = self._now
        assert now is not None
        if not self._conversational:
            out.append(standalone_event(fact, self._country, now, conversational=False))
            return
        at = fact.delivered_at
        assert at is not None
        if self._conv_end is not None:
            if at <= self._conv_end:
                self._add(fact)
                return
            self._close(out)
        pending = self._pending
        if (
            pending is not None
            and pending.direction is not fact.direction
            and at - self._pending_at <= WINDOW
        ):
            # A reply within 24 h to the other side's last message opens a conversation,
            # which lasts 24 h from that reply, whichever side replied.
            etype = (
                EventType.A2P_CONVERSATION
                if fact.direction is Direction.P2A
                else EventType.P2A_CONVERSATION
            )
            self._open(pending, etype, self._pending_at, at + WINDOW)
            self._pending = None
            self._add(fact)
            return
        if pending is not None:
            out.append(standalone_event(pending, self._country, now, conversational=True))
        self._pending = fact
        self._pending_at = at

    def finish(self, out: list[BillableEvent]) -> None:
        if self._conv_end is not None:
            self._close(out)
        if self._pending is not None:
            assert self._now is not None
            out.append(
                standalone_event(self._pending, self._country, self._now, conversational=True)
            )
            self._pending = None

    def _open(self, opener: MessageFact, etype: EventType, start: datetime, end: datetime) -> None:
        self._conv_opener = opener
        self._conv_start = start
        self._conv_type = etype
        self._conv_end = end
        self._conv_ids = []
        self._conv_mt = self._conv_mo = self._conv_size = 0
        self._add(opener)

    def _add(self, fact: MessageFact) -> None:
        self._conv_ids.append(fact.message_id)
        if fact.direction is Direction.A2P:
            self._conv_mt += 1
        else:
            self._conv_mo += 1
        self._conv_size += fact.payload_bytes

    def _close(self, out: list[BillableEvent]) -> None:
        opener = self._conv_opener
        end = self._conv_end
        assert opener is not None
        assert end is not None
        assert self._now is not None
        final_at = end + FINALISATION_DELAY
        out.append(
            BillableEvent(
                event_id(opener.message_id, self._conv_type),
                self._conv_type,
                BillingModel.STANDARD,
                opener.channel,
                opener.business_id,
                opener.agent_id,
                opener.customer,
                self._country,
                self._conv_start,
                end,
                tuple(self._conv_ids),
                self._conv_mt,
                self._conv_mo,
                self._conv_size,
                0,
                None,
                True,
                "chargeable: per conversation",
                status_at(final_at, self._now),
                final_at,
            )
        )
        self._conv_end = None
        self._conv_opener = None
