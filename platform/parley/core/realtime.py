"""The console fan-out: the "console" stream consumer sends every event to the channel-layer
groups of the roles allowed to see it, or to one staff user's group when the event is
addressed to that user; the staff websocket relays it to the browser with its stream id.

The channel layer is a hint, the log is the truth. A send may be lost (Redis restarting, a
subscriber reconnecting), so the consumer never retries one: it logs the failure and moves
on, and a late copy can never arrive behind a newer event. Each message carries `prev`, the
id of the previous entry of the same business; a websocket that has not accounted for `prev`
reads what it missed from the log before relaying the event (frontend.consumers). A send is
still at least once (a batch may run again after a crash): websockets drop a stream id they
have already relayed."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer

from parley.core.models import StreamEntry
from parley.core.stream.consumers import Delivery, batch_consumer

log = logging.getLogger(__name__)


def staff_group(business_id: int, role: str) -> str:
    return f"staff.{business_id}.{role}"


def user_group(business_id: int, user_id: int) -> str:
    return f"staff.{business_id}.user.{user_id}"


def groups_of(business_id: int, audience: frozenset[str], user_id: int | None) -> list[str]:
    if user_id is not None:
        return [user_group(business_id, user_id)]
    return [staff_group(business_id, role) for role in sorted(audience)]


def previous_ids(items: list[Delivery]) -> dict[int, int]:
    """For each delivery's stream id, the id of the entry of the same business just before
    it in the log (0: none left in the log)."""
    if not items:
        return {}
    lo, hi = items[0].stream_id, items[-1].stream_id
    businesses = sorted({item.event.business_id for item in items})
    last: dict[int, int] = {}
    for business_id in businesses:
        before = (
            StreamEntry.objects.filter(business_id=business_id, id__lt=lo)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        last[business_id] = before or 0
    # Read the range itself rather than trust the batch to hold every entry of it.
    previous: dict[int, int] = {}
    in_range = StreamEntry.objects.filter(id__gte=lo, id__lte=hi, business_id__in=businesses)
    for stream_id, business_id in in_range.order_by("id").values_list("id", "business_id"):
        previous[stream_id] = last[business_id]
        last[business_id] = stream_id
    return previous


@batch_consumer("console", batch_size=200)
def send_to_staff(items: list[Delivery]) -> None:
    layer = get_channel_layer()
    if layer is None or not items:
        return
    previous = previous_ids(items)
    # One message per group for the whole batch (the events in stream order): a publish
    # each is a round trip to Redis, and most events go to several groups.
    by_group: dict[str, list[dict[str, object]]] = {}
    for item in items:
        event = item.event
        relayed: dict[str, object] = {
            "event": event.as_message(item.stream_id),
            "prev": previous.get(item.stream_id, 0),
        }
        for group in groups_of(event.business_id, event.audience, event.user_id):
            by_group.setdefault(group, []).append(relayed)
    sends: list[tuple[str, dict[str, object]]] = [
        (group, {"type": "staff.events", "events": relayed}) for group, relayed in by_group.items()
    ]
    if not sends:
        return
    try:
        _fan_out(layer, sends)
    except Exception:
        # Websockets fill the gap from the log at the business's next event or reconnect.
        log.warning("console: %s event(s) not pushed", len(items), exc_info=True)


_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_loop_lock = threading.Lock()
SEND_TIMEOUT = 10.0


def _background_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for the fan-out, on a thread of its own, made on first use
    (after a worker's fork). The channel layer keeps a connection per event loop: a new loop
    a batch (`async_to_sync`) would connect to Redis again for every batch."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="console-fan-out", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


def _fan_out(layer: object, sends: list[tuple[str, dict[str, object]]]) -> None:
    future = asyncio.run_coroutine_threadsafe(_send_all(layer, sends), _background_loop())
    try:
        future.result(timeout=SEND_TIMEOUT)
    except BaseException:
        future.cancel()
        raise


async def _send_all(layer: object, sends: list[tuple[str, dict[str, object]]]) -> None:
    # One event loop hop for the whole batch, in stream order.
    for group, message in sends:
        await layer.group_send(group, message)  # type: ignore[attr-defined]
