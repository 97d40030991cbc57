"""An agent's reply from the console: it goes out through the business number's endpoint
exactly as an API send does (the same action, the same lifecycle and events), and the
service window decides what may be sent: free-form text inside it, an approved template
outside. Answering an offered conversation accepts it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from parley.accounts.models import PhoneNumber, StaffUser
from parley.accounts.roles import Capability
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.message_templates.sending import resolve_template_send
from parley.messaging.actions import do_send_message
from parley.messaging.content import Button, Content, Interactive, Text
from parley.messaging.models import Conversation, Message
from parley.messaging.selectors import is_window_open
from routing.actions.sessions import _accept
from routing.models import Agent, Session

MAX_TEXT = 4096


def conversation_of(actor: StaffUser, conversation_id: int) -> Conversation:
    found = (
        Conversation.objects.filter(pk=conversation_id, business_id=actor.business_id)
        .select_related("number")
        .first()
    )
    if found is None:
        raise NotFound("No such conversation.")
    return found


def check_holder(actor: StaffUser, conversation: Conversation) -> Session | None:
    """Agents answer only the conversations they hold; supervisors any."""
    session = (
        Session.objects.select_for_update()
        .filter(conversation=conversation, state__in=Session.OPEN_STATES)
        .first()
    )
    if actor.can(Capability.SUPERVISE_QUEUES):
        return session
    mine = Agent.objects.filter(user=actor).values_list("pk", flat=True).first()
    if session is None or mine is None or session.agent_id != mine:
        raise PermissionDenied("This conversation is not assigned to you.")
    return session


def reply_content(
    actor: StaffUser,
    conversation: Conversation,
    *,
    text: str = "",
    buttons: list[str] | None = None,
    template: str = "",
    language: str = "",
    components: list[dict[str, Any]] | None = None,
) -> Content:
    """What the reply box asked for, checked against the service window."""
    if template:
        return resolve_template_send(
            actor.business, template, language or "en_US", components or []
        )
    if not is_window_open(conversation):
        raise InvalidParameter(
            "The customer's 24-hour service window is closed: send an approved template.",
            field="text",
        )
    text = (text or "").strip()
    if not text:
        raise InvalidParameter("Write a reply.", field="text")
    if len(text) > MAX_TEXT:
        raise InvalidParameter(f"A reply is at most {MAX_TEXT} characters.", field="text")
    titles = [b.strip() for b in (buttons or []) if b.strip()]
    if titles:
        if len(titles) > 3 or any(len(t) > 20 for t in titles):
            raise InvalidParameter("Up to 3 reply buttons of at most 20 characters.",
                                   field="buttons")  # fmt: skip
        if len(text) > 1024:
            raise InvalidParameter("A message with buttons is at most 1024 characters.",
                                   field="text")  # fmt: skip
        return Interactive(
            kind="button",
            body=text,
            buttons=tuple(Button(id=f"reply-{i + 1}", title=t) for i, t in enumerate(titles)),
        )
    return Text(body=text)


def do_reply(
    actor: StaffUser,
    conversation_id: int,
    *,
    text: str = "",
    buttons: list[str] | None = None,
    template: str = "",
    language: str = "",
    components: list[dict[str, Any]] | None = None,
) -> Message:
    conversation = conversation_of(actor, conversation_id)
    number: PhoneNumber = conversation.number
    if number.status != PhoneNumber.Status.CONNECTED:
        raise Conflict("The business number is not registered.", field="number")
    content = reply_content(
        actor, conversation, text=text, buttons=buttons, template=template,
        language=language, components=components,
    )  # fmt: skip
    with transaction.atomic():
        session = check_holder(actor, conversation)
        message = do_send_message(number, conversation.customer, content)
        if session is not None and session.state == Session.State.OFFERED:
            _accept(session, clock.now(), actor=actor)
            session.save(update_fields=["state", "accepted_at", "offer_expires_at"])
    return message
