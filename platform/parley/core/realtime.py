"""The console fan-out: the "console" stream consumer sends every event to the channel-layer
groups of the roles allowed to see it, or to one staff user's group when the event is
addressed to that user; the staff websocket relays it to the browser with its stream id.

A send is at least once (a batch may run again after a crash): browsers drop a stream id
they have already shown."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from parley.core.stream.consumers import Delivery, batch_consumer


def staff_group(business_id: int, role: str) -> str:
    return f"staff.{business_id}.{role}"


def user_group(business_id: int, user_id: int) -> str:
    return f"staff.{business_id}.user.{user_id}"


def groups_of(business_id: int, audience: frozenset[str], user_id: int | None) -> list[str]:
    if user_id is not None:
        return [user_group(business_id, user_id)]
    return [staff_group(business_id, role) for role in sorted(audience)]


@batch_consumer("console", batch_size=200)
def send_to_staff(items: list[Delivery]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    sends: list[tuple[str, dict[str, object]]] = []
    for item in items:
        event = item.event
        message: dict[str, object] = {
            "type": "staff.event",
            "event": event.as_message(item.stream_id),
        }
        for group in groups_of(event.business_id, event.audience, event.user_id):
            sends.append((group, message))
    if sends:
        async_to_sync(_send_all)(layer, sends)


async def _send_all(layer: object, sends: list[tuple[str, dict[str, object]]]) -> None:
    # One event loop hop for the whole batch, in stream order.
    for group, message in sends:
        await layer.group_send(group, message)  # type: ignore[attr-defined]
