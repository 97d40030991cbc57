"""RCS US billing model (traffic to or from US numbers).

Every message or user action is classified by its content alone, whatever the agent's
billing category, so US events are per message and final as soon as they are delivered.

Reading of the rules (seed 002 and the public "US billing model" guide for RBM carriers):

* A2P **rich message**: text only, optionally with suggested replies and the dial-a-number
  or open-URL-in-browser actions (``Suggestions.BASIC``); billed in segments of 160 UTF-8
  bytes of the message text, rounded up, at least one; suggestion text and postback data
  are not counted. A URL preview is rendered from the text, so the message stays rich.
* A2P **rich media message**: any media or file, rich card or carousel, or any other
  suggested action (``Suggestions.ADVANCED``); one flat event, no segments. So a text
  message that carries an image is a rich *media* message, however long its text: the
  media decides, and segments do not apply.
* P2A **rich message**: user text — typed, sent by tapping a suggested reply, or the
  automatic STOP/START message — in segments like A2P text.
* P2A **rich media message**: a file the user sends, or a shared location (structured
  content, not text: our reading; the guide lists files explicitly).
* **suggested_action_click**: a suggested-action tap (postback). The (un)subscribe webhook
  event itself is never billed.

The API reports a ``richMessageClassification`` on each US message in real time; see
:func:`rich_message_classification`. As in the public API examples, ``segmentCount`` is
only present for ``RICH_MESSAGE``.
"""

from __future__ import annotations

from datetime import datetime

from billing.engine.countries import country_of
from billing.engine.events import BillableEvent, BillingModel, EventType, single_message_event
from billing.engine.facts import Channel, Content, Direction, MessageFact, Suggestions

US_REGION = "US"
SEGMENT_BYTES = 160

_P2A_TEXT = frozenset({Content.TEXT, Content.SUGGESTED_REPLY_TAP, Content.STOP_START})
_P2A_MEDIA = frozenset({Content.MEDIA, Content.LOCATION_SHARE})

_CLASSIFICATION = {
    EventType.A2P_RICH_MESSAGE: "RICH_MESSAGE",
    EventType.P2A_RICH_MESSAGE: "RICH_MESSAGE",
    EventType.A2P_RICH_MEDIA_MESSAGE: "RICH_MEDIA_MESSAGE",
    EventType.P2A_RICH_MEDIA_MESSAGE: "RICH_MEDIA_MESSAGE",
    EventType.SUGGESTED_ACTION_CLICK: "SUGGESTED_ACTION_CLICK",
}


def segment_count(text_bytes: int) -> int:
    """Segments of 160 UTF-8 bytes, rounded up, minimum 1."""
    return max(1, -(-text_bytes // SEGMENT_BYTES))


def us_event_type(fact: MessageFact) -> EventType | None:
    """The US-model event of a fact, or None if it is never billed."""
    content = fact.content
    if fact.direction is Direction.A2P:
        if content is Content.TEXT and fact.suggestions is not Suggestions.ADVANCED:
            return EventType.A2P_RICH_MESSAGE
        return EventType.A2P_RICH_MEDIA_MESSAGE
    if content in _P2A_TEXT:
        return EventType.P2A_RICH_MESSAGE
    if content in _P2A_MEDIA:
        return EventType.P2A_RICH_MEDIA_MESSAGE
    if content is Content.SUGGESTED_ACTION_TAP:
        return EventType.SUGGESTED_ACTION_CLICK
    return None  # the (un)subscribe event


def _segments(etype: EventType, fact: MessageFact) -> int:
    if etype is EventType.A2P_RICH_MESSAGE or etype is EventType.P2A_RICH_MESSAGE:
        return segment_count(fact.text_bytes)
    return 0


def rich_message_classification(fact: MessageFact) -> dict[str, str | int] | None:
    """The ``richMessageClassification`` the API reports for a message, or None when there
    is none (non-US traffic, WhatsApp, or the unbilled subscription event)."""
    if fact.channel is not Channel.RCS or (fact.country or country_of(fact.customer)) != US_REGION:
        return None
    etype = us_event_type(fact)
    if etype is None:
        return None
    result: dict[str, str | int] = {"classificationType": _CLASSIFICATION[etype]}
    segments = _segments(etype, fact)
    if segments:
        result["segmentCount"] = segments
    return result


def us_event(fact: MessageFact, country: str, now: datetime) -> BillableEvent | None:
    """The event of one US fact (final once delivered), or None if it is not billed."""
    etype = us_event_type(fact)
    if etype is None:
        return None
    at = fact.delivered_at
    assert at is not None
    segments = _segments(etype, fact)
    return single_message_event(
        fact,
        etype,
        BillingModel.US,
        country,
        segments=segments,
        reason="chargeable: per segment" if segments else "chargeable: per message",
        final_at=at,
        now=now,
    )
