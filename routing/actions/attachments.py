"""An agent's file from the console: uploaded and sent through the same media path as the
Cloud API's (`parley.media`: the upload is checked and stored, then encrypted with a fresh
media key, only its ciphertext kept), as a free-form media message inside the customer's
service window, by whoever holds the conversation. Answering an offered conversation
accepts it, as a text reply does."""

from __future__ import annotations

from django.db import transaction

from parley.accounts.models import PhoneNumber, StaffUser
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter
from parley.media.actions import do_prepare_media, do_upload_media
from parley.media.rules import MediaRef
from parley.messaging.actions import do_send_message
from parley.messaging.content import MAX_CAPTION
from parley.messaging.models import Message
from parley.messaging.selectors import is_window_open
from routing.actions.replies import check_holder, conversation_of
from routing.actions.sessions import _accept
from routing.models import Session


def do_reply_with_attachment(
    actor: StaffUser,
    conversation_id: int,
    *,
    data: bytes,
    mime_type: str,
    file_name: str = "",
    caption: str = "",
) -> Message:
    conversation = conversation_of(actor, conversation_id)
    number: PhoneNumber = conversation.number
    if number.status != PhoneNumber.Status.CONNECTED:
        raise Conflict("The business number is not registered.", field="number")
    if not is_window_open(conversation):
        raise InvalidParameter(
            "The customer's 24-hour service window is closed: send an approved template.",
            field="file",
        )
    caption = (caption or "").strip()
    if len(caption) > MAX_CAPTION:
        raise InvalidParameter(f"A caption is at most {MAX_CAPTION} characters.", field="caption")
    if not data:
        raise InvalidParameter("Choose a file to send.", field="file")
    with transaction.atomic():
        check_holder(actor, conversation)  # before anything is stored
    media = do_upload_media(number, data, mime_type=mime_type, file_name=file_name)
    content = do_prepare_media(
        number.business,
        MediaRef(kind=media.kind, media_id=str(media.graph_id), caption=caption,
                 filename=media.file_name),
    )  # fmt: skip
    with transaction.atomic():
        session = check_holder(actor, conversation)
        message = do_send_message(number, conversation.customer, content)
        if session is not None and session.state == Session.State.OFFERED:
            _accept(session, clock.now(), actor=actor)
            session.save(update_fields=["state", "accepted_at", "offer_expires_at"])
    return message
