"""The device websocket (`/ws/relay/`): queued envelopes are pushed as soon as they arrive.

Authenticate with the `Authorization` header of the handshake (same credential as HTTP), or
— for browsers, which cannot set headers — with a first message
`{"type": "auth", "credential": "<e164>.<device_id>:<password>"}`.

Server → client: `{"type": "ready"}`, `{"type": "envelope", "envelope": {...}}`,
`{"type": "queue_empty"}` after the backlog, `{"type": "acked", "guid"}`,
`{"type": "keys_low", "ec", "kem"}`, `{"type": "error", "message"}`, `{"type": "pong"}`.
Client → server: `{"type": "ack", "guid"}`, `{"type": "ping"}`."""

from __future__ import annotations

import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from parley.core import clock
from parley.core.errors import NotFound, ParleyError
from parley.core.group_commit import GroupCommit
from parley.relay.actions.devices import do_touch_device
from parley.relay.actions.mailbox import NOT_QUEUED, do_ack_envelope, do_ack_from_devices
from parley.relay.auth import authenticate_header_value
from parley.relay.credentials import parse_credential
from parley.relay.models import Device, Envelope
from parley.relay.realtime import device_group
from parley.relay.selectors import get_device_for_credential, list_pending_envelopes_of
from parley.relay.selectors import list_pending_envelopes as _pending
from parley.relay.serializers import envelope_out

CLOSE_UNAUTHENTICATED = 4401
BACKLOG_PAGE = 100


def _authenticate_credential(text: str) -> Device | None:
    credential = parse_credential(text) if isinstance(text, str) else None
    if credential is None:
        return None
    device = get_device_for_credential(credential)
    if device is not None:
        do_touch_device(device)
    return device


def _backlog(device: Device, after_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    return [
        (e.pk, str(e.guid), envelope_out(e))
        for e in _pending(device, now=clock.now(), limit=BACKLOG_PAGE, after_id=after_id)
    ]


def _to_push(device: Device, envelope: Envelope | None) -> dict[str, Any] | bool | None:
    """The envelope to push, None when it is gone, or False when this connection's device
    has been registered anew since it connected (its queue is no longer this socket's)."""
    if envelope is None:
        return None
    if envelope.recipient.credential_digest != device.credential_digest:
        return False
    return envelope_out(envelope)


def _push_batch(wanted: list[tuple[Device, str]]) -> list[dict[str, Any] | bool | None]:
    found = list_pending_envelopes_of(wanted)
    return [_to_push(device, e) for (device, _), e in zip(wanted, found, strict=True)]


# Each envelope queued for an online phone is read to be pushed: those announced to any
# connection while a batch is read go together in the next read.
_PUSHES = GroupCommit(_push_batch, name="relay-pushes")


# Every phone acknowledges each envelope as it arrives: the acknowledgements that come in
# on any connection while a batch is written go together in the next transaction.
_ACKS: GroupCommit[tuple[Device, str], bool] = GroupCommit(do_ack_from_devices, name="relay-acks")


async def _ack(device: Device, guid: str) -> None:
    """Acknowledge one envelope of the device (NotFound when it is not in its queue)."""
    try:
        acked = await _ACKS.submit((device, guid))
    except Exception:  # logged with its batch: acknowledged on its own instead
        await database_sync_to_async(do_ack_envelope)(device, guid)
        return
    if not acked:
        raise NotFound(NOT_QUEUED)


class RelayDeviceConsumer(AsyncJsonWebsocketConsumer):
    device: Device | None = None
    group: str | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand a frame or a channel-layer message to its handler without Channels' check
        of the event loop's database connections first: that check is a hop to a thread for
        every frame (every phone's every ack), and this consumer never touches the database
        on the loop — its reads and writes run in `database_sync_to_async` or a group
        commit, which check the connections around each batch themselves."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.sent: set[str] = set()
        headers = dict(self.scope.get("headers") or [])
        header = headers.get(b"authorization", b"").decode("latin-1")
        if header:
            device = await database_sync_to_async(authenticate_header_value)(header)
            if device is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            await self.accept()
            await self._start(device)
        else:
            await self.accept()  # wait for {"type": "auth"}

    async def _start(self, device: Device) -> None:
        self.device = device
        self.group = device_group(device.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(
            {"type": "ready", "number": device.account.e164, "device_id": device.device_id}
        )
        after = 0
        while True:
            page = await database_sync_to_async(_backlog)(device, after)
            for pk, guid, body in page:
                after = pk
                if guid not in self.sent:
                    self.sent.add(guid)
                    await self.send_json({"type": "envelope", "envelope": body})
            if len(page) < BACKLOG_PAGE:
                break
        await self.send_json({"type": "queue_empty"})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "message": "Send JSON objects."})
            return
        kind = content.get("type")
        if self.device is None:
            if kind == "auth":
                device = await database_sync_to_async(_authenticate_credential)(
                    content.get("credential", "")
                )
                if device is not None:
                    await self._start(device)
                    return
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "ack":
            guid = str(content.get("guid", ""))
            try:
                guid = str(uuid.UUID(guid))
                await _ack(self.device, guid)
            except (ParleyError, ValueError) as exc:
                await self.send_json({"type": "error", "guid": guid, "message": str(exc)})
                return
            await self.send_json({"type": "acked", "guid": guid})
        else:
            await self.send_json({"type": "error", "message": f"Unknown message type {kind!r}."})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data)
        except ValueError:  # not JSON
            await self.send_json({"type": "error", "message": "Send JSON objects."})

    # channel-layer handlers

    async def relay_envelope(self, message: dict[str, Any]) -> None:
        if self.device is None or message["guid"] in self.sent:
            return
        wanted = (self.device, message["guid"])
        try:
            body = await _PUSHES.submit(wanted)
        except Exception:  # logged with its batch: read on its own instead
            body = (await database_sync_to_async(_push_batch)([wanted]))[0]
        if body is False:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if isinstance(body, dict):
            self.sent.add(message["guid"])
            await self.send_json({"type": "envelope", "envelope": body})

    async def relay_keys_low(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "keys_low", "ec": message["ec"], "kem": message["kem"]})
