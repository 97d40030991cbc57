"""Writes of the message lifecycle. Each action changes rows and publishes its events in
one transaction (`publish` writes them to the stream with the change)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from parley.accounts.actions.numbers import do_set_messaging_limit, parse_e164
from parley.accounts.models import Business, PhoneNumber
from parley.core import clock
from parley.core.bulk import insert_returning, update_rows, upsert_rows
from parley.core.errors import InvalidParameter
from parley.core.events import (
    ConversationWindowClosed,
    DeliveryRecorded,
    Event,
    MessageReceived,
    MessageStatusChanged,
)
from parley.core.graph_ids import new_media_id
from parley.core.ids import business_scoped_user_id, new_wamid
from parley.core.publish import publish, publish_many
from parley.core.queue import enqueue
from parley.messaging import entry_points, lifecycle, selectors, tiers
from parley.messaging.content import (
    Content,
    ContentError,
    Media,
    billing_class,
    check_direction,
    from_entry_point,
    parse_content,
)
from parley.messaging.models import Conversation, Endpoint, Envelope, Message, Reach
from parley.messaging.work import request_send

# The customer-service window: 24 h from the customer's last message.
SERVICE_WINDOW = dt.timedelta(hours=24)
# The moving period of the messaging limit and of the per-user marketing limit.
LIMIT_PERIOD = dt.timedelta(hours=24)
# A business-initiated message beyond the portfolio's messaging limit. Meta documents no
# dedicated code for it (a send beyond the limit is simply not delivered); the closest
# documented one is 131048, "Spam rate limit hit": "Message failed to send because there are
# restrictions on how many messages can be sent from this phone number." (WhatsApp error
# codes, developers.facebook.com/documentation/business-messaging/whatsapp/support/
# error-codes).
MESSAGING_LIMIT_CODE = 131048
MESSAGING_LIMIT_TITLE = (
    "Spam rate limit hit: there are restrictions on how many messages can be sent from this "
    "phone number (the business's messaging limit, {tier}: {limit} unique customers in 24 "
    "hours, is reached)"
)
# A marketing template beyond the customer's per-user marketing limit (Meta's 131049 and its
# details; Parley's limit is PARLEY["MARKETING_PER_USER_LIMIT"] in a moving 24 h).
MARKETING_LIMIT_CODE = 131049
MARKETING_LIMIT_TITLE = (
    "This message was not delivered to maintain healthy ecosystem engagement (the customer "
    "received {limit} marketing messages in 24 hours)"
)
# Billing's defaults for a number with no agent of its own: the number is the sender.
AGENT_CATEGORY = "CONVERSATIONAL"
CHANNEL = "WHATSAPP"


def _new_conversation(number: PhoneNumber, customer: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "business_id": number.business_id,
        "user_id": business_scoped_user_id(number.business_id, customer),
        "created_at": now,
        "last_message_at": now,
    }


def _conversation(number: PhoneNumber, customer: str, now: dt.datetime) -> Conversation:
    conversation, _ = Conversation.objects.select_for_update().get_or_create(
        number=number, customer=customer, defaults=_new_conversation(number, customer, now)
    )
    return conversation


def _conversations(
    number: PhoneNumber, customers: set[str], now: dt.datetime
) -> dict[str, Conversation]:
    """The number's conversations with `customers`, locked (in id order: two writers never
    wait on each other crosswise), those missing created first."""

    def locked() -> dict[str, Conversation]:
        return {c.customer: c for c in _lock_conversations(number.pk, sorted(customers))}

    found = locked()
    missing = customers - found.keys()
    if missing:
        # Another writer may create one at the same moment: its row wins, this one is skipped.
        columns = ["number_id", "customer", "business_id", "user_id", "created_at",
                   "last_message_at"]  # fmt: skip
        upsert_rows(
            Conversation,
            columns,
            [
                [number.pk, c, *(new[k] for k in columns[2:])]
                for c, new in ((c, _new_conversation(number, c, now)) for c in sorted(missing))
            ],
            conflict=["number_id", "customer"],
            update=[],
        )
        found = locked()
    for conversation in found.values():
        conversation.number = number
    return found


def _lock_conversations(number_id: int, customers: list[str]) -> list[Conversation]:
    """`Conversation.objects.select_for_update().filter(number=…, customer__in=…)` in id
    order, as one plain statement: every send runs it, and compiling the ORM's query cost
    more than the rest of accepting a message."""
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT * FROM {quote(Conversation._meta.db_table)} WHERE number_id = %s"
        f" AND customer IN ({', '.join(['%s'] * len(customers))}) ORDER BY id{lock}"
    )
    return list(Conversation.objects.raw(sql, [number_id, *customers]))


def _customer(raw: str) -> str:
    customer, _ = parse_e164(raw)
    return customer


def _check(content: Content, direction: str) -> dict[str, Any]:
    """Refuse malformed content however it was built (dataclasses do not check themselves:
    the round trip through its JSON form does); returns that JSON form."""
    try:
        data = content.to_dict()
        parse_content(data)
        check_direction(content, direction)
        billing_class(content, direction)
    except ContentError as exc:
        raise InvalidParameter(str(exc), field="content") from exc
    return data


def _status_changed(message: Message, previous: str) -> MessageStatusChanged:
    conversation = message.conversation
    return MessageStatusChanged(
        business_id=message.business_id,
        occurred_at=clock.now(),
        message_id=message.wamid,
        conversation_id=conversation.pk,
        number_id=conversation.number_id,
        customer=conversation.customer,
        direction=message.direction,
        status=message.status,
        previous_status=previous,
        error_code=message.error_code,
        error_title=message.error_title,
    )


def _status_event(message: Message, previous: str) -> None:
    publish(_status_changed(message, previous))


def _delivery_event(message: Message) -> None:
    """The facts billing rates, at delivery (business messages) or arrival (customers')."""
    publish(_delivery_recorded(message))


def _delivery_recorded(message: Message) -> DeliveryRecorded:
    conversation = message.conversation
    outbound = message.direction == Message.Direction.OUTBOUND
    content = parse_content(message.content)
    billed = billing_class(content, message.direction)
    sent_at = message.accepted_at if outbound else message.received_at
    delivered_at = message.delivered_at if outbound else message.received_at
    assert sent_at is not None and delivered_at is not None
    return DeliveryRecorded(
        business_id=message.business_id,
        occurred_at=delivered_at,
        message_id=message.wamid,
        agent_id=conversation.number.e164,
        agent_category=AGENT_CATEGORY,
        customer=conversation.customer,
        channel=CHANNEL,
        direction="A2P" if outbound else "P2A",
        content=billed.content,
        sent_at=sent_at,
        delivered_at=delivered_at,
        text_bytes=billed.text_bytes,
        size_bytes=billed.size_bytes,
        suggestions=billed.suggestions,
        url_preview=billed.url_preview,
        template_category=billed.template_category,
        entry_point=not outbound and from_entry_point(content),
    )


def _move(message: Message, new: str, *, at: dt.datetime) -> bool:
    """Apply one lifecycle report to a locked message; publish when it changed."""
    target = lifecycle.transition(message.status, new)
    if target is None:
        return False
    previous = message.status
    message.status = target
    setattr(message, lifecycle.timestamp_field(target), at)
    message.save(update_fields=["status", lifecycle.timestamp_field(target), "error_code",
                                "error_title"])  # fmt: skip
    _status_event(message, previous)
    if target == lifecycle.DELIVERED and message.direction == Message.Direction.OUTBOUND:
        _delivery_event(message)
    return True


# What moving a message writes: its status, error and the stamps of the statuses it reached.
_MOVE_COLUMNS = ["status", "error_code", "error_title"]


def _move_many(moves: Sequence[tuple[Message, str]], *, at: dt.datetime) -> int:
    """`_move` for many lifecycle reports about locked messages, in their order (a message
    may move more than once: delivered, then read): the rows that changed are written in
    one statement and the events published together, in the order one `_move` after
    another would publish them. Returns how many reports moved a message."""
    events: list[Event] = []
    changed: dict[int, Message] = {}
    stamps: set[str] = set()
    moved = 0
    for message, new in moves:
        target = lifecycle.transition(message.status, new)
        if target is None:
            continue
        moved += 1
        previous = message.status
        message.status = target
        stamp = lifecycle.timestamp_field(target)
        setattr(message, stamp, at)
        stamps.add(stamp)
        changed[message.pk] = message
        events.append(_status_changed(message, previous))
        if target == lifecycle.DELIVERED and message.direction == Message.Direction.OUTBOUND:
            events.append(_delivery_recorded(message))
    if changed:
        # Every other column of a locked row is as it was read: writing the union of the
        # stamps moved here leaves the stamps a row did not move unchanged.
        columns = [*_MOVE_COLUMNS, *sorted(stamps)]
        update_rows(
            Message,
            columns,
            [(m.pk, *(getattr(m, c) for c in columns)) for m in changed.values()],
        )
        publish_many(events)
    return moved


def _locked(message_id: int) -> Message:
    return (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation", "conversation__number")
        .get(pk=message_id)
    )


# -- outbound ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outbound:
    """One business message to accept: to whom, what, and the message it answers."""

    customer: str
    content: Content
    reply_to: str = ""
    # When the sender's own device stamped it (ms; 0: not sent from a device).
    client_timestamp: int = 0


def do_send_message(
    number: PhoneNumber,
    customer: str,
    content: Content,
    *,
    reply_to: str = "",
    deliver: bool = True,
    client_timestamp: int = 0,
) -> Message:
    """Accept a business message to `customer`; once committed, a worker encrypts it to the
    customer's devices and hands it to the relay (`deliver=False`: the caller sends it)."""
    send = Outbound(customer, content, reply_to=reply_to, client_timestamp=client_timestamp)
    return do_send_messages(number, [send], deliver=deliver)[0]


# What accepting a business message writes (the other columns are empty until it moves on).
_SENT_COLUMNS = ["business_id", "conversation_id", "number_id", "wamid", "direction",
                 "content_type", "content", "reply_to", "status", "error_title",
                 "client_timestamp", "created_at", "accepted_at", "free_entry_until"]  # fmt: skip


def do_send_messages(
    number: PhoneNumber, sends: Sequence[Outbound], *, deliver: bool = True
) -> list[Message]:
    """Accept business messages of one number in one transaction, in order (a burst of API
    calls answered together): each conversation is locked once, the messages are inserted
    and their `accepted` events published together, and once committed one request has a
    worker send them all. Nothing is written when any of them is malformed."""
    checked: list[tuple[str, Outbound, dict[str, Any]]] = []
    for send in sends:
        data = _check(send.content, Message.Direction.OUTBOUND)
        if len(send.reply_to) > 128:
            raise InvalidParameter("reply_to is not a message id.", field="reply_to")
        checked.append((_customer(send.customer), send, data))
    if not checked:
        return []
    now = clock.now()
    with transaction.atomic():
        conversations = _conversations(number, {customer for customer, _, _ in checked}, now)
        messages: list[Message] = []
        for customer, send, data in checked:
            conversation = conversations[customer]
            conversation.last_message_at = now
            free = entry_points.free_window(conversation.entry_point_at,
                                            conversation.free_entry_opened_at,
                                            conversation.free_entry_expires_at, now)  # fmt: skip
            if free is not None and free[0] != conversation.free_entry_opened_at:
                conversation.free_entry_opened_at, conversation.free_entry_expires_at = free
            messages.append(
                Message(
                    business_id=number.business_id,
                    conversation=conversation,
                    number_id=number.pk,
                    wamid=new_wamid(customer),
                    direction=Message.Direction.OUTBOUND,
                    content_type=send.content.type,
                    content=data,
                    reply_to=send.reply_to,
                    status=lifecycle.ACCEPTED,
                    client_timestamp=send.client_timestamp,
                    created_at=now,
                    accepted_at=now,
                    free_entry_until=free[1] if free is not None else None,
                )
            )
        update_rows(
            Conversation,
            ["last_message_at", "free_entry_opened_at", "free_entry_expires_at"],
            [
                (c.pk, c.last_message_at, c.free_entry_opened_at, c.free_entry_expires_at)
                for c in conversations.values()
            ],
        )
        ids = insert_returning(Message, _SENT_COLUMNS, [
            [getattr(m, column) for column in _SENT_COLUMNS] for m in messages
        ])  # fmt: skip
        for message, pk in zip(messages, ids, strict=True):
            message.pk = pk
            message._state.adding, message._state.db = False, Message.objects.db
        publish_many([_status_changed(m, "") for m in messages])
        if deliver:
            # The worker that answers sends everything the number has waiting.
            last, e164 = messages[-1].pk, number.e164
            transaction.on_commit(lambda: request_send(e164, last))
    return messages


def do_record_sent_envelope(message_id: int, guid: str, device_id: int) -> bool:
    """The relay queued the message for one of the customer's devices (envelope `guid`):
    remember the envelope and move the message to `sent`. Idempotent per envelope."""
    now = clock.now()
    with transaction.atomic():
        message = _locked(message_id)
        Envelope.objects.get_or_create(
            guid=guid, defaults={"message": message, "device_id": device_id}
        )
        return _move(message, lifecycle.SENT, at=now)


def do_record_sent_envelopes(sent: list[tuple[int, str, int]]) -> int:
    """Many `do_record_sent_envelope`s (message id, envelope guid, device id) in one
    transaction, each message locked once; returns how many messages moved to `sent`."""
    now = clock.now()
    with transaction.atomic():
        ids = sorted({message_id for message_id, _, _ in sent})
        messages = {
            m.pk: m
            for m in Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__number")
            .filter(pk__in=ids)
            .order_by("pk")
        }
        upsert_rows(
            Envelope,
            ["guid", "message_id", "device_id"],
            [(guid, pk, device_id) for pk, guid, device_id in sent if pk in messages],
            conflict=["guid"],
            update=[],
        )
        return _move_many([(messages[pk], lifecycle.SENT) for pk in ids if pk in messages], at=now)


def do_fail_message(message_id: int, code: int, title: str) -> bool:
    """The message cannot be sent (`code`/`title` in the Cloud API's terms)."""
    with transaction.atomic():
        message = _locked(message_id)
        if lifecycle.transition(message.status, lifecycle.FAILED) is None:
            return False
        message.error_code = code
        message.error_title = title[:200]
        return _move(message, lifecycle.FAILED, at=clock.now())


def do_admit_sends(messages: list[Message]) -> set[int]:
    """Count the accepted business messages of one business about to go out against the
    platform's limits, in order, and fail those beyond them (asynchronously, as Meta fails
    them: the send itself was accepted). A business-initiated message (a template while the
    customer's window is closed) to a customer the business has not reached in the last
    24 h needs room under its messaging limit (131048 beyond); a marketing one also needs
    room under the customer's per-user marketing limit (131049 beyond). Returns the ids of
    the messages it failed."""
    counted = [m for m in messages if selectors.is_business_initiated(m)]
    if not counted:
        return set()
    now = clock.now()
    since = now - LIMIT_PERIOD
    per_user = int(settings.PARLEY["MARKETING_PER_USER_LIMIT"])
    refused: set[int] = set()
    with transaction.atomic():
        # One business at a time: two workers serving two of its numbers count in turn.
        business = Business.objects.select_for_update().get(pk=counted[0].business_id)
        tier = business.messaging_limit_tier
        limit = tiers.limit_of(tier, settings.PARLEY["MESSAGING_LIMITS"])
        reached = selectors.count_reached_customers(business, since)
        new_here: set[str] = set()
        marketing_here: dict[str, int] = {}
        # Admitted before, when the relay could not be reached: counted already.
        admitted = set(
            Reach.objects.filter(message__in=counted).values_list("message_id", flat=True)
        )
        for message in counted:
            assert message.business_id == business.pk
            if message.pk in admitted:
                continue
            customer = message.conversation.customer
            known = customer in new_here or selectors.was_reached(business, customer, since)
            if not tiers.may_reach(reached_24h=reached, already_reached=known, limit=limit):
                title = MESSAGING_LIMIT_TITLE.format(tier=tier, limit=limit)
                do_fail_message(message.pk, MESSAGING_LIMIT_CODE, title)
                refused.add(message.pk)
                continue
            marketing = selectors.is_marketing(message)
            if marketing:
                received = selectors.count_marketing_received(customer, since)
                if received + marketing_here.get(customer, 0) >= per_user:
                    title = MARKETING_LIMIT_TITLE.format(limit=per_user)
                    do_fail_message(message.pk, MARKETING_LIMIT_CODE, title)
                    refused.add(message.pk)
                    continue
                marketing_here[customer] = marketing_here.get(customer, 0) + 1
            if not known:
                new_here.add(customer)
                reached += 1
            Reach.objects.create(
                business=business,
                message=message,
                customer=customer,
                business_initiated=True,
                marketing=marketing,
                at=now,
            )
    return refused


def do_upgrade_messaging_limits(now: dt.datetime | None = None) -> int:
    """Meta's automatic scaling, on the simulation clock: each business portfolio whose
    numbers' quality is not low (none RED) and that reached at least half its limit in
    unique customers in the last 7 days moves one tier up (audited). Idempotent per pass;
    returns how many moved."""
    now = now or clock.now()
    since = now - dt.timedelta(days=tiers.UPGRADE_WINDOW_DAYS)
    sizes = settings.PARLEY["MESSAGING_LIMITS"]
    moved = 0
    for business in Business.objects.filter(
        pk__in=selectors.list_recently_reaching_businesses(since)
    ).exclude(messaging_limit_tier=Business.MessagingLimit.TIER_UNLIMITED):
        qualities = list(PhoneNumber.objects.filter(business=business)
                         .values_list("quality_rating", flat=True))  # fmt: skip
        reached = selectors.count_reached_customers(business, since)
        above = tiers.upgrade(
            business.messaging_limit_tier, qualities=qualities, reached_7d=reached, sizes=sizes
        )
        if above is not None:
            do_set_messaging_limit(
                business,
                tier=above,
                actor_label="platform",
                reason=f"{reached} unique customers reached in {tiers.UPGRADE_WINDOW_DAYS} days",
            )
            moved += 1
    return moved


RECEIPT_STATUS = {
    "delivery": lifecycle.DELIVERED,
    "delivered": lifecycle.DELIVERED,
    "read": lifecycle.READ,
    "expired": lifecycle.EXPIRED,
}


def do_apply_receipt(
    number: PhoneNumber, guid: str, kind: str, *, at: dt.datetime | None = None
) -> bool:
    """A relay receipt (delivery, read, expired) about an envelope this number sent; False
    when no message of the number went out in that envelope."""
    status = RECEIPT_STATUS.get(kind)
    if status is None:
        return False
    with transaction.atomic():
        envelope = (
            Envelope.objects.filter(
                guid=guid,
                message__conversation__number=number,
                message__direction=Message.Direction.OUTBOUND,
            )
            .values_list("message_id", flat=True)
            .first()
        )
        if envelope is None:
            return False
        _move(_locked(envelope), status, at=at or clock.now())
        return True


def do_apply_receipts(
    number: PhoneNumber, receipts: list[tuple[str, str]], *, at: dt.datetime | None = None
) -> int:
    """Many `do_apply_receipt`s (envelope guid, kind) in one transaction, in their order:
    one read finds the messages, one locks them (in id order). Returns how many moved."""
    wanted = [(guid, RECEIPT_STATUS.get(kind)) for guid, kind in receipts]
    guids = sorted({guid for guid, status in wanted if status is not None})
    if not guids:
        return 0
    at = at or clock.now()
    with transaction.atomic():
        # The guids lead (their unique index), and the messages' number and direction are
        # checked on the rows locked by id: no join a planner could walk from the number
        # through all its history.
        carried = dict(Envelope.objects.filter(guid__in=guids).values_list("guid", "message_id"))
        messages = {
            m.pk: m
            for m in Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__number")
            .filter(
                pk__in=sorted(set(carried.values())),
                number=number,
                direction=Message.Direction.OUTBOUND,
            )
            .order_by("pk")
        }
        moves = [
            (message, status)
            for guid, status in wanted
            if status is not None and (message := messages.get(carried.get(guid, 0))) is not None
        ]
        return _move_many(moves, at=at)


# -- inbound -----------------------------------------------------------------------------


def do_record_inbound_message(
    number: PhoneNumber,
    customer: str,
    content: Content,
    *,
    envelope_guid: str,
    device_id: int = 1,
    client_timestamp: int = 0,
    reply_to: str = "",
) -> Message:
    """A customer's message, decrypted by the number's endpoint: store it, open or extend
    the service window and publish `message.received` (and billing's fact). Idempotent by
    envelope: the same envelope twice records one message."""
    customer = _customer(customer)
    _check(content, Message.Direction.INBOUND)
    now = clock.now()
    with transaction.atomic():
        known = Envelope.objects.filter(guid=envelope_guid).select_related("message").first()
        if known is not None:
            return known.message
        conversation = _conversation(number, customer, now)
        conversation.last_message_at = now
        conversation.last_inbound_at = now
        conversation.window_expires_at = now + SERVICE_WINDOW
        fields = ["last_message_at", "last_inbound_at", "window_expires_at"]
        if isinstance(content, Media) and content.pointer and not content.media_id:
            # The business reads a customer's media by a Graph media id, as on the platform.
            content = dataclasses.replace(content, media_id=str(new_media_id()))
        if from_entry_point(content):  # an answer in time is free
            conversation.entry_point_at = now
            fields.append("entry_point_at")
        conversation.save(update_fields=fields)
        message = Message.objects.create(
            business_id=number.business_id,
            conversation=conversation,
            number_id=number.pk,
            wamid=new_wamid(customer),
            direction=Message.Direction.INBOUND,
            content_type=content.type,
            content=content.to_dict(),
            reply_to=reply_to[:128],
            status=lifecycle.RECEIVED,
            client_timestamp=client_timestamp,
            created_at=now,
            received_at=now,
            media_id=int(content.media_id)
            if isinstance(content, Media) and content.media_id
            else None,
        )
        Envelope.objects.create(guid=envelope_guid, message=message, device_id=device_id)
        publish(
            MessageReceived(
                business_id=message.business_id,
                occurred_at=now,
                message_id=message.wamid,
                conversation_id=conversation.pk,
                number_id=number.pk,
                customer=customer,
                content_type=content.type,
                content_json=json.dumps(message.content, separators=(",", ":")),
                text=content.preview()[:500],
                reply_to=message.reply_to,
            )
        )
        _delivery_event(message)
    return message


def do_forget_customer_media(message_id: int) -> bool:
    """The business deleted a customer's media (DELETE /{version}/{media_id}): its id names
    nothing any more. The message keeps the rest of its content."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.media_id is None:
            return False
        message.media_id = None
        content = dict(message.content)
        content.pop("media_id", None)
        message.content = content
        message.save(update_fields=["media_id", "content"])
    return True


def do_mark_inbound_read(message_id: int) -> bool:
    """The business read a customer's message."""
    with transaction.atomic():
        return _move(_locked(message_id), lifecycle.READ, at=clock.now())


def do_mark_read_through(message: Message, *, typing: bool = False) -> list[str]:
    """The business read a customer's message and, as the platform counts it, every earlier
    one of the conversation. Once committed, the customer's phone gets a read receipt for
    each envelope that carried them and, with `typing`, the typing indicator (the business
    is writing an answer). Returns the guids of the envelopes newly read."""
    now = clock.now()
    with transaction.atomic():
        unread = list(
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "conversation__number")
            .filter(
                conversation_id=message.conversation_id,
                direction=Message.Direction.INBOUND,
                status=Message.Status.RECEIVED,
                id__lte=message.pk,
            )
            .order_by("id")
        )
        _move_many([(row, lifecycle.READ) for row in unread], at=now)
        guids = list(
            Envelope.objects.filter(message__in=unread)
            .order_by("id")
            .values_list("guid", flat=True)
        )
        shown = (
            Envelope.objects.filter(message=message).values_list("guid", flat=True).first()
            if typing
            else None
        )
        if guids or shown:
            e164 = message.conversation.number.e164
            transaction.on_commit(
                lambda: enqueue("parley.messaging.tasks.send_read_receipts", e164, guids, shown)
            )
    return guids


# -- windows and endpoints ---------------------------------------------------------------


def do_close_windows(now: dt.datetime | None = None) -> int:
    """Announce every service window that has closed by `now` and was not announced yet
    (what a clock catch-up or the periodic sweep calls). Idempotent; returns how many."""
    now = now or clock.now()
    closed = 0
    with transaction.atomic():
        due = (
            Conversation.objects.select_for_update()
            .filter(window_expires_at__lte=now)
            .exclude(window_closed_at__gte=F("window_expires_at"))
        )
        for conversation in due:
            ended = conversation.window_expires_at
            assert ended is not None
            conversation.window_closed_at = ended
            conversation.save(update_fields=["window_closed_at"])
            publish(
                ConversationWindowClosed(
                    business_id=conversation.business_id,
                    occurred_at=ended,
                    conversation_id=conversation.pk,
                    number_id=conversation.number_id,
                    customer=conversation.customer,
                    closed_at=ended,
                )
            )
            closed += 1
    return closed


def do_enable_endpoint(number: PhoneNumber, *, active: bool = True) -> Endpoint:
    """Run (or stop running) the number's Signal endpoint as a service in the workers."""
    with transaction.atomic():
        endpoint, created = Endpoint.objects.select_for_update().get_or_create(
            number=number, defaults={"active": active, "created_at": clock.now()}
        )
        if not created and endpoint.active != active:
            endpoint.active = active
            endpoint.save(update_fields=["active"])
        # The nudge's remembered answers: dropped now, and again at commit (a read in
        # between may have remembered the state before).
        selectors.SERVED.forget()
        transaction.on_commit(selectors.SERVED.forget)
    return endpoint
