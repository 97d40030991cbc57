"""Stream deliveries into webhook bodies: the reads the pure payloads need (a selector
module, no side effects).

`build_changes` takes a batch of stream deliveries and answers one `BuiltChange` (one POST
body) per event a business hears about, reading what it needs in a fixed handful of
queries per batch, never one per event:

    message.received         messages: the customer's message (context, interactive kind)
    message.status_changed   messages: sent, delivered, read or failed of a business
                             message, with per-message pricing on sent and delivered
    template.status_changed  message_template_status_update
    number.quality_changed   phone_number_quality_update (FLAGGED / UNFLAGGED only)
    webhook.test_requested   the field's App Dashboard sample, for one app

`number.status_changed` (registration, official-business verification) has no faithful
`account_update` event (Meta reports an Official Business Account's status in
`account_alerts`, and a registration in none): it produces nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from typing import Any

from parley.accounts.models import PhoneNumber
from parley.core.events import (
    MessageReceived,
    MessageStatusChanged,
    NumberQualityChanged,
    TemplateStatusChanged,
    WebhookTestRequested,
)
from parley.core.ids import business_scoped_user_id
from parley.core.stream.consumers import Delivery
from parley.messaging.content import (
    Content,
    ContentError,
    InteractiveReply,
    Unsupported,
    parse_content,
)
from parley.messaging.models import Conversation, Message
from parley.webhooks import payloads

# How far back an interactive reply without a quote looks for the message it answers.
REPLY_LOOKBACK = dt.timedelta(days=30)


@dataclasses.dataclass(frozen=True)
class BuiltChange:
    """One change's POST body. `app_id` is set for a test event (sent to that app only);
    "" means every subscribed app of the business that reads `field`."""

    stream_id: int
    business_id: int
    field: str
    event: str
    message_id: str  # the wamid the change is about ("" for the other fields)
    body: str
    app_id: str = ""


@dataclasses.dataclass(frozen=True)
class _Row:
    """What the payloads need of a stored message."""

    wamid: str
    direction: str
    content_type: str
    content: dict[str, Any]
    conversation_id: int
    created_at: dt.datetime
    free_entry_until: dt.datetime | None = None  # accepted in a free entry point window


@dataclasses.dataclass
class _Batch:
    """Everything read for one batch."""

    numbers: dict[int, str] = dataclasses.field(default_factory=dict)  # id → E.164
    # conversation id → (customer E.164, business-scoped user id)
    conversations: dict[int, tuple[str, str]] = dataclasses.field(default_factory=dict)
    messages: dict[str, _Row] = dataclasses.field(default_factory=dict)  # by wamid
    # conversation id → the business's interactive and template messages, newest first
    answerable: dict[int, list[_Row]] = dataclasses.field(default_factory=dict)
    # conversation id → when the customer's messages arrived, oldest first
    inbound: dict[int, list[dt.datetime]] = dataclasses.field(default_factory=dict)


def _priced(event: MessageStatusChanged) -> bool:
    return event.status in ("sent", "delivered")


def _wanted_status(event: MessageStatusChanged) -> bool:
    return event.direction == Message.Direction.OUTBOUND and event.status in payloads.STATUSES


def _row(values: dict[str, Any]) -> _Row:
    content = values["content"] if isinstance(values["content"], dict) else {}
    return _Row(values["wamid"], values["direction"], values["content_type"], content,
                values["conversation_id"], values["created_at"],
                values["free_entry_until"])  # fmt: skip


_ROW_FIELDS = ("wamid", "direction", "content_type", "content", "conversation_id", "created_at",
               "free_entry_until")  # fmt: skip


def _load(received: list[MessageReceived], statuses: list[MessageStatusChanged],
          quality: list[NumberQualityChanged]) -> _Batch:  # fmt: skip
    batch = _Batch()
    number_ids = {e.number_id for e in received} | {e.number_id for e in statuses}
    number_ids |= {e.number_id for e in quality}
    if number_ids:
        batch.numbers = dict(
            PhoneNumber.objects.filter(pk__in=number_ids).values_list("pk", "e164")
        )
    conversation_ids = {e.conversation_id for e in received}
    conversation_ids |= {e.conversation_id for e in statuses}
    if conversation_ids:
        batch.conversations = {
            pk: (customer, user_id)
            for pk, customer, user_id in Conversation.objects.filter(
                pk__in=conversation_ids
            ).values_list("pk", "customer", "user_id")
        }
    wamids = {e.message_id for e in statuses} | {e.reply_to for e in received if e.reply_to}
    if wamids:
        batch.messages = {
            row["wamid"]: _row(row)
            for row in Message.objects.filter(wamid__in=wamids).values(*_ROW_FIELDS)
        }
    # Taps on reply buttons, list rows and quick replies arrive without a quote: the
    # business's interactive and template messages they may answer.
    taps = [e for e in received if e.content_type == InteractiveReply.type]
    if taps:
        latest = max(e.occurred_at for e in taps)
        rows = (
            Message.objects.filter(
                conversation_id__in={e.conversation_id for e in taps},
                direction=Message.Direction.OUTBOUND,
                content_type__in=("interactive", "template"),
                created_at__gte=min(e.occurred_at for e in taps) - REPLY_LOOKBACK,
                created_at__lte=latest,
            )
            .order_by("-created_at", "-id")
            .values(*_ROW_FIELDS)
        )
        answerable: defaultdict[int, list[_Row]] = defaultdict(list)
        for values in rows:
            answerable[values["conversation_id"]].append(_row(values))
        batch.answerable = dict(answerable)
    # The customer's messages that opened a window a priced status may fall in.
    priced = [e for e in statuses if _wanted_status(e) and _priced(e)]
    if priced:
        arrivals = (
            Message.objects.filter(
                conversation_id__in={e.conversation_id for e in priced},
                direction=Message.Direction.INBOUND,
                received_at__gte=min(e.occurred_at for e in priced) - payloads.WINDOW,
                received_at__lte=max(e.occurred_at for e in priced),
            )
            .order_by("received_at")
            .values_list("conversation_id", "received_at")
        )
        inbound: defaultdict[int, list[dt.datetime]] = defaultdict(list)
        for conversation_id, received_at in arrivals:
            if received_at is not None:
                inbound[conversation_id].append(received_at)
        batch.inbound = dict(inbound)
    return batch


# -- the parts ---------------------------------------------------------------------------


def _number(batch: _Batch, number_id: int) -> payloads.Number:
    e164 = batch.numbers.get(number_id, "")
    return payloads.Number(phone_number_id=str(number_id),
                           display_phone_number=payloads.digits(e164))  # fmt: skip


def _customer(
    batch: _Batch, business_id: int, conversation_id: int, customer: str
) -> payloads.Customer:
    _, user_id = batch.conversations.get(conversation_id, (customer, ""))
    wa_id = payloads.digits(customer)
    # No profile name is kept for simulated customers: Meta's fallback, the number.
    return payloads.Customer(
        wa_id=wa_id,
        user_id=user_id or business_scoped_user_id(business_id, customer),
        name=wa_id,
    )


def _content(event: MessageReceived) -> Content:
    try:
        return parse_content(json.loads(event.content_json))
    except (ContentError, ValueError, TypeError) as exc:
        return Unsupported(reason=str(exc)[:500])


def _reply_kind(row: _Row) -> str:
    if row.content_type == "template":
        return payloads.REPLY_TEMPLATE
    if row.content_type == "interactive":
        kind = row.content.get("kind")
        if kind == "list":
            return payloads.REPLY_LIST
        if kind == "button":
            return payloads.REPLY_BUTTON
    return ""


def _button_ids(row: _Row) -> set[str]:
    buttons = row.content.get("buttons") or []
    return {str(b.get("id")) for b in buttons if isinstance(b, dict)}


def _quoted(batch: _Batch, event: MessageReceived, content: Content,
            business: str, customer: str) -> payloads.Quoted | None:  # fmt: skip
    """The message a customer's message answers: the one it quotes, or, for a tap without
    a quote, the business's interactive message offering that reply (else its latest
    template, whose quick reply it was)."""
    if event.reply_to:
        row = batch.messages.get(event.reply_to)
        if row is None:
            return payloads.Quoted(event.reply_to, business)
        sender = business if row.direction == Message.Direction.OUTBOUND else customer
        kind = _reply_kind(row) if row.direction == Message.Direction.OUTBOUND else ""
        return payloads.Quoted(row.wamid, sender, kind)
    if not isinstance(content, InteractiveReply):
        return None
    offered = [
        row for row in batch.answerable.get(event.conversation_id, [])
        if row.created_at <= event.occurred_at
    ]  # fmt: skip
    for row in offered:
        if row.content_type == "interactive" and content.id in _button_ids(row):
            return payloads.Quoted(row.wamid, business, _reply_kind(row))
    for row in offered:
        if row.content_type == "template":
            return payloads.Quoted(row.wamid, business, payloads.REPLY_TEMPLATE)
    return None


def _received(batch: _Batch, item: Delivery, event: MessageReceived) -> BuiltChange | None:
    number = _number(batch, event.number_id)
    customer = _customer(batch, event.business_id, event.conversation_id, event.customer)
    content = _content(event)
    quoted = _quoted(batch, event, content, number.display_phone_number, customer.wa_id)
    message = payloads.Inbound(event.message_id, payloads.unix(event.occurred_at), content,
                               quoted)  # fmt: skip
    value = payloads.messages_value(number, customer, message)
    if value is None:
        return None
    return BuiltChange(item.stream_id, event.business_id, payloads.MESSAGES, event.name,
                       event.message_id, payloads.body(str(event.business_id),
                                                        payloads.MESSAGES, value))  # fmt: skip


def _pricing(batch: _Batch, event: MessageStatusChanged
             ) -> tuple[payloads.Pricing | None, payloads.ConversationRef | None]:  # fmt: skip
    """Per-message pricing at the status's time, as billing rates the message: free in a
    free entry point window; otherwise a template's category (a service message
    otherwise), free inside the customer-service window the customer's last message before
    then opened."""
    row = batch.messages.get(event.message_id)
    if row is None or not _priced(event):
        return None, None
    if row.free_entry_until is not None:  # answered an ad or a Page's button in time
        expires = payloads.unix(row.free_entry_until) if event.status == "sent" else None
        seed = f"{event.conversation_id}:free-entry:{row.free_entry_until.isoformat()}"
        return payloads.FREE_ENTRY_POINT, payloads.ConversationRef(
            payloads.conversation_id(seed), payloads.FREE_ENTRY_POINT.category, expires
        )
    at = event.occurred_at
    before = [t for t in batch.inbound.get(event.conversation_id, []) if t <= at]
    last = before[-1] if before else None
    open_window = payloads.in_window(last, at)
    category = str(row.content.get("category") or "") if row.content_type == "template" else ""
    pricing = payloads.price(category, open_window)
    end = payloads.window_end(last) if open_window else None
    if end is not None and last is not None:
        seed = f"{event.conversation_id}:{last.isoformat()}:{pricing.category}"
    else:
        seed, end = f"{event.conversation_id}:{event.message_id}", at + payloads.WINDOW
    expiration = payloads.unix(end) if event.status == "sent" else None
    return pricing, payloads.ConversationRef(payloads.conversation_id(seed), pricing.category,
                                             expiration)  # fmt: skip


def _status(batch: _Batch, item: Delivery, event: MessageStatusChanged) -> BuiltChange | None:
    if not _wanted_status(event):
        return None
    pricing, conversation = _pricing(batch, event)
    update = payloads.StatusUpdate(
        wamid=event.message_id,
        status=event.status,
        timestamp=payloads.unix(event.occurred_at),
        customer=_customer(batch, event.business_id, event.conversation_id, event.customer),
        conversation=conversation,
        pricing=pricing,
        error_code=event.error_code,
        error_title=event.error_title,
    )
    value = payloads.status_value(_number(batch, event.number_id), update)
    return BuiltChange(item.stream_id, event.business_id, payloads.MESSAGES, event.name,
                       event.message_id, payloads.body(str(event.business_id),
                                                        payloads.MESSAGES, value))  # fmt: skip


def _template(item: Delivery, event: TemplateStatusChanged) -> BuiltChange:
    at = payloads.unix(event.occurred_at)
    value = payloads.template_status_value(
        payloads.TemplateChange(
            template_id=event.template_id,
            name=event.template_name,
            language=event.language,
            event=event.event or event.status,
            reason=event.reason,
            category=event.category,
            previous_status=event.previous_status,
            timestamp=at,
        )
    )
    text = payloads.body(str(event.business_id), payloads.TEMPLATE_STATUS, value, time=at)
    return BuiltChange(item.stream_id, event.business_id, payloads.TEMPLATE_STATUS,
                       event.name, "", text)  # fmt: skip


def _quality(batch: _Batch, item: Delivery, event: NumberQualityChanged) -> BuiltChange | None:
    display = batch.numbers.get(event.number_id) or event.display_phone_number
    value = payloads.quality_value(display, event.event, event.current_limit)
    if value is None:
        return None
    at = payloads.unix(event.occurred_at)
    text = payloads.body(str(event.business_id), payloads.QUALITY, value, time=at)
    return BuiltChange(item.stream_id, event.business_id, payloads.QUALITY, event.name, "",
                       text)  # fmt: skip


def _test(item: Delivery, event: WebhookTestRequested) -> BuiltChange | None:
    if event.field not in payloads.SAMPLE_FIELDS:
        return None
    text = payloads.sample_body(event.field, time=payloads.unix(event.occurred_at))
    return BuiltChange(item.stream_id, event.business_id, event.field, event.name, "", text,
                       app_id=event.app_id)  # fmt: skip


def build_changes(items: list[Delivery]) -> list[BuiltChange]:
    """The webhook bodies of a batch of stream deliveries, in stream order (events with
    nothing to tell a business's apps are left out)."""
    received = [i.event for i in items if isinstance(i.event, MessageReceived)]
    statuses = [i.event for i in items if isinstance(i.event, MessageStatusChanged)]
    quality = [i.event for i in items if isinstance(i.event, NumberQualityChanged)]
    batch = _load(received, [s for s in statuses if _wanted_status(s)], quality)
    built: list[BuiltChange] = []
    for item in items:
        event = item.event
        change: BuiltChange | None = None
        if isinstance(event, MessageReceived):
            change = _received(batch, item, event)
        elif isinstance(event, MessageStatusChanged):
            change = _status(batch, item, event)
        elif isinstance(event, TemplateStatusChanged):
            change = _template(item, event)
        elif isinstance(event, NumberQualityChanged):
            change = _quality(batch, item, event)
        elif isinstance(event, WebhookTestRequested):
            change = _test(item, event)
        if change is not None:
            built.append(change)
    return built
