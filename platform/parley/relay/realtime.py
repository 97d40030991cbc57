"""Push to online devices: a listener turns relay events into channel-layer messages for the
recipient device's websocket. Only the envelope's guid travels through Redis; the consumer
reads the ciphertext from the database. A push is handed to a background event loop
and not waited for: it only hurries a device that would fetch anyway, and a sender putting
a hundred envelopes in one request must not wait for a hundred round trips."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from channels.layers import get_channel_layer

from parley.core.events import EnvelopeQueued, PreKeysLow
from parley.core.publish import listen

log = logging.getLogger(__name__)


def device_group(device_pk: int) -> str:
    return f"relay.device.{device_pk}"


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="relay-push", daemon=True).start()
        return _loop


def _report(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("relay push failed: %s", future.exception())


def _send(device_pk: int, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send: Coroutine[Any, Any, None] = layer.group_send(device_group(device_pk), message)
    asyncio.run_coroutine_threadsafe(send, _background_loop()).add_done_callback(_report)


@listen(EnvelopeQueued)
def push_envelope(event: EnvelopeQueued) -> None:
    _send(event.recipient_device_pk, {"type": "relay.envelope", "guid": event.guid})


@listen(PreKeysLow)
def push_keys_low(event: PreKeysLow) -> None:
    _send(
        event.device_pk,
        {"type": "relay.keys_low", "ec": event.ec_remaining, "kem": event.kem_remaining},
    )
