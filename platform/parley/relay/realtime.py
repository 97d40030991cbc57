"""Push to online devices: a listener turns relay events into channel-layer messages for the
recipient device's websocket. Only the envelope's guid travels through Redis; the consumer
reads the ciphertext from the database."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from parley.core.events import EnvelopeQueued, PreKeysLow
from parley.core.publish import listen

log = logging.getLogger(__name__)


def device_group(device_pk: int) -> str:
    return f"relay.device.{device_pk}"


def _send(device_pk: int, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(device_group(device_pk), message)


@listen(EnvelopeQueued)
def push_envelope(event: EnvelopeQueued) -> None:
    _send(event.recipient_device_pk, {"type": "relay.envelope", "guid": event.guid})


@listen(PreKeysLow)
def push_keys_low(event: PreKeysLow) -> None:
    _send(
        event.device_pk,
        {"type": "relay.keys_low", "ec": event.ec_remaining, "kem": event.kem_remaining},
    )
