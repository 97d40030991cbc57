"""Reads of conversations and messages (no side effects)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable

from django.db.models import QuerySet

from parley.accounts.models import Business, PhoneNumber
from parley.core import clock
from parley.messaging.models import Conversation, Endpoint, Message, Reach


def is_window_open(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """Whether the customer-service window is open at `now` (the clock's now by default)."""
    ends = conversation.window_expires_at
    return ends is not None and (now or clock.now()) < ends


def may_send(message: Message) -> bool:
    """Whether a business message may go out: a template anywhere, anything else only
    inside the customer-service window as it stood when the message was accepted."""
    if message.content_type == "template":
        return True
    ends = message.conversation.window_expires_at
    accepted = message.accepted_at or message.created_at
    return ends is not None and accepted < ends


def is_business_initiated(message: Message) -> bool:
    """Whether a business message is business-initiated, as the messaging limits count it:
    a template sent while the customer's service window was closed (as it stood when the
    message was accepted)."""
    if message.content_type != "template":
        return False
    conversation = message.conversation
    ends, opened = conversation.window_expires_at, conversation.last_inbound_at
    accepted = message.accepted_at or message.created_at
    inside = ends is not None and accepted < ends and (opened is None or opened <= accepted)
    return not inside


def is_marketing(message: Message) -> bool:
    return message.content_type == "template" and message.content.get("category") == "marketing"


def _counted(rows: QuerySet[Reach], since: dt.datetime) -> QuerySet[Reach]:
    # A message the relay refused afterwards (failed) reached nobody.
    return rows.filter(at__gt=since).exclude(message__status=Message.Status.FAILED)


def count_reached_customers(business: Business | int, since: dt.datetime) -> int:
    """Unique customers the business portfolio reached with business-initiated messages
    after `since` (what its messaging limit counts)."""
    rows = Reach.objects.filter(business=business, business_initiated=True)
    return _counted(rows, since).values("customer").distinct().count()


def was_reached(business: Business | int, customer: str, since: dt.datetime) -> bool:
    rows = Reach.objects.filter(business=business, business_initiated=True, customer=customer)
    return _counted(rows, since).exists()


def count_marketing_received(customer: str, since: dt.datetime) -> int:
    """Marketing templates the customer received from all businesses after `since` (what
    the per-user marketing limit counts)."""
    return _counted(Reach.objects.filter(customer=customer, marketing=True), since).count()


def list_recently_reaching_businesses(since: dt.datetime) -> list[int]:
    """Businesses that sent business-initiated messages after `since`: the only ones whose
    messaging limit may be upgraded."""
    rows = Reach.objects.filter(business_initiated=True, at__gt=since)
    return sorted(set(rows.values_list("business_id", flat=True)))


def list_conversations(business: Business) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(business=business)
        .select_related("number")
        .order_by("-last_message_at", "-id")
    )


def get_conversation(business: Business, conversation_id: int) -> Conversation | None:
    return list_conversations(business).filter(pk=conversation_id).first()


def list_messages(conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(conversation=conversation).order_by("created_at", "id")


def list_number_messages(number: PhoneNumber, customer: str | None = None) -> QuerySet[Message]:
    rows = Message.objects.filter(conversation__number=number)
    if customer is not None:
        rows = rows.filter(conversation__customer=customer)
    return (
        rows.select_related("conversation")
        .prefetch_related("envelopes")
        .order_by("created_at", "id")
    )


def get_message(wamid: str) -> Message | None:
    return Message.objects.select_related("conversation").filter(wamid=wamid).first()


def get_customer_by_user_id(business: Business, user_id: str) -> str | None:
    """The customer (E.164) the business knows by this business-scoped user id, if any."""
    return (
        Conversation.objects.filter(business=business, user_id=user_id)
        .values_list("customer", flat=True)
        .first()
    )


def get_number_message(number: PhoneNumber, wamid: str) -> Message | None:
    """One of the number's messages by its wamid (None for any other number's)."""
    if not wamid:
        return None
    return (
        Message.objects.select_related("conversation", "conversation__number")
        .filter(wamid=wamid, conversation__number=number)
        .first()
    )


def get_replied_wamid(number: PhoneNumber, reference: str) -> str:
    """The wamid of the number's message a customer's reply names, by its wamid or by the
    envelope guid the customer's phone knows it by ("" when it names none of them)."""
    if not reference:
        return ""
    mine = Message.objects.filter(conversation__number=number)
    if mine.filter(wamid=reference).exists():
        return reference
    carried = mine.filter(envelopes__guid=reference).values_list("wamid", flat=True).first()
    return carried or ""


class ServedNumbers:
    """Whether numbers' endpoints are served, remembered in this process for `ttl` seconds of
    `timer` (a monotonic clock unless a test gives another). The nudge asks after every
    commit that queued an envelope for a business number, and the answer rarely changes:
    `forget` drops every answer when an endpoint changes (`do_enable_endpoint` calls it for
    changes made in this process); another process's change is seen once the answer
    expires. `is_endpoint_served` keeps only "served" answers."""

    MAX_NUMBERS = 4096

    def __init__(self, ttl: float = 5.0, timer: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.timer = timer
        self._answers: dict[str, tuple[bool, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, e164: str) -> bool | None:
        found = self._answers.get(e164)
        if found is None or found[1] <= self.timer():
            return None
        return found[0]

    def put(self, e164: str, served: bool, generation: int) -> None:
        """Remember an answer read while `generation` was current (a read that a `forget`
        overtook is not kept: it may predate the change)."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._answers) >= self.MAX_NUMBERS:
                self._answers.clear()
            self._answers[e164] = (served, self.timer() + self.ttl)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._answers.clear()


# This process's answers, for the nudge (`parley.messaging.listeners`).
SERVED = ServedNumbers()


def is_endpoint_served(number: PhoneNumber | str, *, cache: ServedNumbers | None = None) -> bool:
    """Whether the number's Signal endpoint runs as a service in the workers. With a
    `cache`, its answer when it has a fresh one (no query), else the database's, then
    remembered: at most `cache.ttl` seconds old for a change made in another process."""
    if cache is not None:
        e164 = number if isinstance(number, str) else number.e164
        known = cache.get(e164)
        if known is not None:
            return known
        generation = cache.generation
        served = Endpoint.objects.filter(number__e164=e164, active=True).exists()
        if served:
            # Only "served" is kept: a number that becomes served in another process is
            # nudged at once, and a stale "served" costs only a worker's empty look.
            cache.put(e164, True, generation)
        return served
    if isinstance(number, str):
        return Endpoint.objects.filter(number__e164=number, active=True).exists()
    return Endpoint.objects.filter(number=number, active=True).exists()


def list_served_numbers() -> list[str]:
    return list(
        Endpoint.objects.filter(active=True).values_list("number__e164", flat=True).order_by("id")
    )


def list_unread_inbound(number: PhoneNumber) -> QuerySet[Message]:
    """Customers' messages to the number that the business has not read yet, oldest first."""
    return (
        Message.objects.filter(
            conversation__number=number,
            direction=Message.Direction.INBOUND,
            status=Message.Status.RECEIVED,
        )
        .select_related("conversation")
        .prefetch_related("envelopes")
        .order_by("created_at", "id")
    )


def list_messages_to_send(number: PhoneNumber, *, limit: int) -> QuerySet[Message]:
    """The number's accepted business messages, oldest first: what its endpoint sends."""
    return (
        Message.objects.filter(
            number=number,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.ACCEPTED,
        )
        .select_related("conversation")
        .order_by("id")[:limit]
    )


# -- the developers' message log (console) ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MessageLogFilter:
    """What the message log is narrowed to; empty fields filter nothing."""

    number_id: int | None = None
    direction: str = ""
    status: str = ""
    customer: str = ""  # E.164
    since: dt.datetime | None = None  # created at or after (the simulation clock's time)
    until: dt.datetime | None = None  # created before
    wamid: str = ""  # exact; when given, the other filters are ignored


def list_business_messages(
    business: Business, filters: MessageLogFilter | None = None
) -> QuerySet[Message]:
    """The business's messages, both directions, newest first. Always scoped by business:
    a number id or wamid of another tenant matches nothing."""
    f = filters or MessageLogFilter()
    rows = Message.objects.filter(business=business)
    if f.wamid:
        rows = rows.filter(wamid=f.wamid)
    else:
        if f.number_id is not None:
            rows = rows.filter(conversation__number_id=f.number_id)
        if f.direction:
            rows = rows.filter(direction=f.direction)
        if f.status:
            rows = rows.filter(status=f.status)
        if f.customer:
            rows = rows.filter(conversation__customer=f.customer)
        if f.since is not None:
            rows = rows.filter(created_at__gte=f.since)
        if f.until is not None:
            rows = rows.filter(created_at__lt=f.until)
    return rows.select_related("conversation", "conversation__number").order_by(
        "-created_at", "-id"
    )


def get_business_message(business: Business, wamid: str) -> Message | None:
    """One of the business's messages by wamid (None for an unknown one or another
    business's: the two look the same)."""
    if not wamid or len(wamid) > 128:
        return None
    return list_business_messages(business, MessageLogFilter(wamid=wamid)).first()
