"""Routing consumes the conversation events of the durable stream: a customer's message
opens (or counts on) a session and queues it, the business's answer records the response
times, a closed service window ends the session. Then the businesses touched are routed.
The consumer's position is saved in the same transaction, so each event counts once."""

from __future__ import annotations

import datetime as dt

from parley.core.events import (
    ConversationWindowClosed,
    MessageReceived,
    MessageStatusChanged,
    StaffChanged,
)
from parley.core.stream.consumers import Delivery, batch_consumer

OUTBOUND = "outbound"
ROUTED_CHANGES = ("role:agent", "role:supervisor")


def _stops_taking(change: str) -> bool:
    return change == "deactivated" or (change.startswith("role:") and change not in ROUTED_CHANGES)


@batch_consumer(
    "routing",
    events=(MessageReceived, MessageStatusChanged, ConversationWindowClosed, StaffChanged),
)
def route_conversations(items: list[Delivery]) -> None:
    from routing.actions.agents import do_take_offline
    from routing.actions.sessions import (
        Context,
        close_session,
        do_route_waiting,
        record_inbound_batch,
        record_responses,
    )
    from routing.models import Session

    touched: set[int] = set()
    contexts: dict[int, Context] = {}
    inbound: list[MessageReceived] = []
    waiting: set[int] = set()  # the conversations of `inbound`
    answers: list[tuple[int, dt.datetime]] = []
    answering: set[int] = set()  # the conversations of `answers`

    def record_answers() -> None:
        # The business's answers in a row are recorded together, in order.
        record_responses(answers)
        answers.clear()
        answering.clear()

    def record_pending() -> None:
        # Customers' messages in a row are recorded together, per business, in order.
        by_business: dict[int, list[MessageReceived]] = {}
        for event in inbound:
            by_business.setdefault(event.business_id, []).append(event)
        for business_id, events in by_business.items():
            ctx = contexts.get(business_id)
            if ctx is None:
                ctx = contexts[business_id] = Context.load(business_id)
            record_inbound_batch(events, ctx)
            touched.add(business_id)
        inbound.clear()
        waiting.clear()

    for item in items:
        event = item.event
        if isinstance(event, MessageReceived):
            if event.conversation_id in answering:
                record_answers()  # answered before the customer wrote again
            inbound.append(event)
            waiting.add(event.conversation_id)
            continue
        # What a customer wrote before this event is recorded before it acts.
        conversation = getattr(event, "conversation_id", None)
        if conversation is None or conversation in waiting:
            record_pending()
        if isinstance(event, MessageStatusChanged):
            # A new business message (its first status) is an answer to the customer.
            if event.direction == OUTBOUND and not event.previous_status:
                answers.append((event.conversation_id, event.occurred_at))
                answering.add(event.conversation_id)
            continue
        record_answers()
        if isinstance(event, ConversationWindowClosed):
            session = (
                Session.objects.select_for_update()
                .filter(conversation_id=event.conversation_id, state__in=Session.OPEN_STATES)
                .first()
            )
            if session is not None:
                answered = session.first_response_at is not None
                close_session(
                    session,
                    event.occurred_at,
                    state=Session.State.RESOLVED if answered else Session.State.ABANDONED,
                    reason="window_closed",
                )
                touched.add(event.business_id)
        elif (
            # A deactivated account, or one whose new role takes no conversations: its
            # agent goes offline and hands back what it held.
            isinstance(event, StaffChanged)
            and _stops_taking(event.change)
            and do_take_offline(event.user_ids, event.occurred_at)
        ):
            touched.add(event.business_id)
    record_pending()
    record_answers()
    for business_id in sorted(touched):
        do_route_waiting(business_id, ctx=contexts.get(business_id))
