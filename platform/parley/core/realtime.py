"""The realtime fan-out: every event goes to the channel-layer groups of the roles allowed to
see it, and the staff websocket consumer relays it to the browser."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from parley.core.events import Event
from parley.core.publish import listen


def staff_group(business_id: int, role: str) -> str:
    return f"staff.{business_id}.{role}"


@listen()
def send_to_staff(event: Event) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "staff.event", "event": event.as_message()}
    for role in sorted(event.audience):
        async_to_sync(layer.group_send)(staff_group(event.business_id, role), message)
