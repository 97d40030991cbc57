"""An agent writing an answer: the customer's phone shows "typing…" (the Cloud API's typing
indicator, which marks the customer's messages read, as the platform does), and the others
of the business who have the conversation open see who is writing."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.events import ConversationTyping
from parley.core.publish import publish
from parley.messaging.actions import do_mark_read_through
from parley.messaging.models import Message
from routing.actions.replies import check_holder, conversation_of

# How long an indicator shows, as WhatsApp shows it (or until the answer is sent).
TYPING_SHOWN = dt.timedelta(seconds=25)


def do_indicate_typing(actor: StaffUser, conversation_id: int) -> ConversationTyping:
    """Only who may answer the conversation (its agent, a supervisor) indicates typing."""
    conversation = conversation_of(actor, conversation_id)
    now = clock.now()
    with transaction.atomic():
        check_holder(actor, conversation)
        last = (
            Message.objects.select_related("conversation__number")
            .filter(conversation=conversation, direction=Message.Direction.INBOUND)
            .order_by("-id")
            .first()
        )
        if last is not None:
            do_mark_read_through(last, typing=True)
        event = ConversationTyping(
            business_id=conversation.business_id,
            occurred_at=now,
            conversation_id=conversation.pk,
            typist_user_id=actor.pk,
            typist_name=actor.full_name,
            until=now + TYPING_SHOWN,
        )
        publish(event)
    return event
