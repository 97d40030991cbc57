"""WhatsApp pricing: per-message from 2025-07-01, conversation-based before.

The model is chosen by each business message's delivery time (UTC), so a key can mix both
across the switch. Customer messages are never charged; each one opens or refreshes the
24 h customer-service window, which both models use.

Per-message pricing (delivered on or after 2025-07-01):

* marketing and authentication templates: charged per delivered message;
* utility templates: free inside the customer-service window, charged outside it;
* non-template (service) messages: free (the real platform only lets them through inside
  the window; one delivered outside it is still free, with its own reason).

Conversation-based pricing (delivered before 2025-07-01): a 24 h conversation per category
(marketing, utility, authentication, service) opened by the first delivered business
message of that category when none of that category is open; later messages of the category
inside the window join it. Service conversations are free from 2024-11-01 (by opening
time). Not modelled: the 1,000 free service conversations a month that applied before, and
authentication-international rates.

Free entry points (both models): a customer message from an ad that clicks to WhatsApp or a
Page's call-to-action button (``MessageFact.entry_point``) answered within 24 h opens a
72 h window from the answer's sending; every business message sent inside it is free (under
conversation-based pricing they form one free conversation of their own).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.engine.events import BillableEvent, BillingModel, EventType, event_id, status_at
from billing.engine.facts import Content, Direction, MessageFact, WaCategory
from billing.engine.periods import FINALISATION_DELAY, WINDOW

PER_MESSAGE_PRICING_FROM = datetime(2025, 7, 1, tzinfo=UTC)
FREE_SERVICE_CONVERSATIONS_FROM = datetime(2024, 11, 1, tzinfo=UTC)

FREE_IN_WINDOW = "free: customer service window"
FREE_UTILITY_IN_WINDOW = "free: utility template inside customer service window"
FREE_SERVICE_MESSAGE = "free: non-template service message"
FREE_SERVICE_CONVERSATION = "free: service conversations since 2024-11-01"
FREE_ENTRY_POINT = "free: free entry point window (72 h)"

# Free entry points: how long after the customer's message an answer opens the window, and
# how long the window lasts (parley.messaging.entry_points holds the same figures).
ENTRY_POINT_ANSWER = timedelta(hours=24)
ENTRY_POINT_WINDOW = timedelta(hours=72)

_CHARGED_MESSAGE = {c: f"chargeable: {c.value} template" for c in WaCategory}
_CHARGED_OUTSIDE = "chargeable: utility template outside customer service window"
_CHARGED_CONVERSATION = {c: f"chargeable: {c.value} conversation" for c in WaCategory}


def per_message_charge(category: WaCategory, in_window: bool) -> tuple[bool, str]:
    """(chargeable, reason) of one delivered business message under per-message pricing."""
    if category is WaCategory.SERVICE:
        return False, FREE_IN_WINDOW if in_window else FREE_SERVICE_MESSAGE
    if category is WaCategory.UTILITY:
        return (False, FREE_UTILITY_IN_WINDOW) if in_window else (True, _CHARGED_OUTSIDE)
    return True, _CHARGED_MESSAGE[category]


def conversation_charge(category: WaCategory, opened_at: datetime) -> tuple[bool, str]:
    """(chargeable, reason) of a conversation under conversation-based pricing."""
    if category is WaCategory.SERVICE and opened_at >= FREE_SERVICE_CONVERSATIONS_FROM:
        return False, FREE_SERVICE_CONVERSATION
    return True, _CHARGED_CONVERSATION[category]


class _Conversation:
    __slots__ = ("category", "end", "free_entry", "ids", "opener", "size", "start")

    def __init__(
        self,
        opener: MessageFact,
        category: WaCategory,
        start: datetime,
        end: datetime | None = None,
        *,
        free_entry: bool = False,
    ) -> None:
        self.opener = opener
        self.category = category
        self.start = start
        self.end = end or start + WINDOW
        self.free_entry = free_entry
        self.ids = [opener.message_id]
        self.size = opener.payload_bytes


class WhatsAppRater:
    """Rates one (business number, customer) key at a time; O(1) state: the window end and
    at most one open conversation per category."""

    __slots__ = ("_convs", "_country", "_entry_at", "_free", "_free_conv", "_now", "_window_end")

    def __init__(self) -> None:
        self._country = ""
        self._now = PER_MESSAGE_PRICING_FROM
        self._window_end: datetime | None = None
        self._convs: dict[WaCategory, _Conversation] = {}
        self._entry_at: datetime | None = None
        self._free: tuple[datetime, datetime] | None = None
        self._free_conv: _Conversation | None = None

    def start(self, country: str, now: datetime) -> None:
        self._country = country
        self._now = now
        self._window_end = None
        self._convs = {}
        self._entry_at = None
        self._free = None
        self._free_conv = None

    def _free_entry(self, sent: datetime) -> tuple[datetime, datetime] | None:
        """The free entry point window a business message sent at `sent` falls in (the one
        open, or the one it opens by answering an entry point in time)."""
        free = self._free
        if free is not None and free[0] <= sent <= free[1]:
            return free
        entry = self._entry_at
        if entry is not None and entry <= sent <= entry + ENTRY_POINT_ANSWER:
            self._free = (sent, sent + ENTRY_POINT_WINDOW)
            return self._free
        return None

    def feed(self, fact: MessageFact, out: list[BillableEvent]) -> None:
        at = fact.delivered_at
        assert at is not None
        if fact.direction is Direction.P2A:
            if fact.content is not Content.SUBSCRIPTION_EVENT:
                self._window_end = at + WINDOW  # opened or refreshed by the customer
            if fact.entry_point:
                self._entry_at = at
            return
        category = fact.template_category or WaCategory.SERVICE
        free = self._free_entry(fact.sent_at)
        if free is not None:
            self._feed_free_entry(fact, at, category, free, out)
            return
        if at >= PER_MESSAGE_PRICING_FROM:
            in_window = self._window_end is not None and at <= self._window_end
            chargeable, reason = per_message_charge(category, in_window)
            out.append(self._message_event(fact, at, category, chargeable, reason))
            return
        conv = self._convs.get(category)
        if conv is not None and at <= conv.end:
            conv.ids.append(fact.message_id)
            conv.size += fact.payload_bytes
            return
        if conv is not None:
            out.append(self._conversation_event(conv))
        self._convs[category] = _Conversation(fact, category, at)

    def _feed_free_entry(
        self,
        fact: MessageFact,
        at: datetime,
        category: WaCategory,
        free: tuple[datetime, datetime],
        out: list[BillableEvent],
    ) -> None:
        if at >= PER_MESSAGE_PRICING_FROM:
            out.append(self._message_event(fact, at, category, False, FREE_ENTRY_POINT))
            return
        conv = self._free_conv
        if conv is not None and conv.start == free[0]:
            conv.ids.append(fact.message_id)
            conv.size += fact.payload_bytes
            return
        if conv is not None:
            out.append(self._conversation_event(conv))
        self._free_conv = _Conversation(fact, category, free[0], free[1], free_entry=True)

    def finish(self, out: list[BillableEvent]) -> None:
        open_convs = list(self._convs.values())
        if self._free_conv is not None:
            open_convs.append(self._free_conv)
        for conv in sorted(open_convs, key=lambda c: (c.start, c.opener.message_id)):
            out.append(self._conversation_event(conv))
        self._convs = {}
        self._free_conv = None

    def _message_event(
        self,
        fact: MessageFact,
        at: datetime,
        category: WaCategory,
        chargeable: bool,
        reason: str,
    ) -> BillableEvent:
        return BillableEvent(
            event_id(fact.message_id, EventType.WHATSAPP_MESSAGE),
            EventType.WHATSAPP_MESSAGE,
            BillingModel.WHATSAPP,
            fact.channel,
            fact.business_id,
            fact.agent_id,
            fact.customer,
            self._country,
            at,
            at,
            (fact.message_id,),
            1,
            0,
            fact.payload_bytes,
            0,
            category,
            chargeable,
            reason,
            status_at(at, self._now),
            at,
        )

    def _conversation_event(self, conv: _Conversation) -> BillableEvent:
        opener = conv.opener
        chargeable, reason = (
            (False, FREE_ENTRY_POINT)
            if conv.free_entry
            else conversation_charge(conv.category, conv.start)
        )
        final_at = conv.end + FINALISATION_DELAY
        return BillableEvent(
            event_id(opener.message_id, EventType.WHATSAPP_CONVERSATION),
            EventType.WHATSAPP_CONVERSATION,
            BillingModel.WHATSAPP,
            opener.channel,
            opener.business_id,
            opener.agent_id,
            opener.customer,
            self._country,
            conv.start,
            conv.end,
            tuple(conv.ids),
            len(conv.ids),
            0,
            conv.size,
            0,
            conv.category,
            chargeable,
            reason,
            status_at(final_at, self._now),
            final_at,
        )
