"""The staff event stream: one websocket per console tab, fed by the "console" stream
consumer. A tab that reconnects passes the last stream id it saw (`?after=<id>`) and first
receives what it missed from the log, so a reconnect leaves no gap; every event carries its
`stream_id`, and `stream.ready` carries the position the tab is at.

While connected, the socket relays events in stream order without a gap: each live event
names the previous entry of its business (`prev`); when that is beyond what the socket has
accounted for, a push was lost (the channel layer is best effort) and the socket first reads
the missing events from the log. The browser therefore only needs the highest id it saw.

Pushes can also stop without a trace: a Redis server that restarts forgets the groups, and a
channel layer that reconnects on its own leaves the socket open with no feed. So every
KEEP_UP_SECONDS the socket joins its groups again and reads from the log whatever committed
beyond its position (asking itself through its own channel, so this runs in order with the
live events)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from parley.accounts.middleware import VERIFIED_KEY
from parley.core.realtime import staff_group, user_group
from parley.core.stream import log as stream_log
from parley.core.stream.selectors import list_missed_events

# A tab that was away longer than this many events reloads instead of replaying them.
MAX_REPLAY = 2000
REPLAY_PAGE = 500
# Seconds: heartbeats closer together than this are folded into the next one.
MIN_BEAT_INTERVAL = 5.0
# Seconds: typing indicators from one tab closer together than this are dropped (the page
# sends one every 10 s while its user writes; an indicator shows for 25 s).
MIN_TYPING_INTERVAL = 5.0
# Seconds between two looks at the groups and the log (see the module's docstring).
KEEP_UP_SECONDS = 5.0


def _after(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after", [])
    if not values or not values[0].isdigit() or len(values[0]) > 18:
        return None
    return int(values[0])


def _record_heartbeat(user: Any, active: bool) -> dict[str, Any] | None:
    from routing.actions.agents import do_record_heartbeat

    agent = do_record_heartbeat(user, active=active)
    if agent is None:
        return None  # not a role that is routed conversations
    return {"status": agent.status, "load": agent.load, "capacity": agent.capacity}


def _record_typing(user: Any, conversation_id: int) -> bool:
    from parley.core.errors import ParleyError
    from routing.actions.typing import do_indicate_typing

    try:
        do_indicate_typing(user, conversation_id)
    except ParleyError:
        return False  # not a conversation this user may answer: nothing to show
    return True


class StaffEventsConsumer(AsyncJsonWebsocketConsumer):
    joined: list[str]
    last_id = 0
    last_beat = float("-inf")
    beat_active = False
    last_typing: tuple[int, float] = (0, float("-inf"))
    keeping_up: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        session = self.scope.get("session")
        verified = session is not None and await database_sync_to_async(session.get)(VERIFIED_KEY)
        if user is None or not user.is_authenticated or not user.is_active or not verified:
            await self.close(code=4401)
            return
        # Join first: live events queue behind this handler and the ids already replayed
        # are dropped, so nothing falls between the replay and the live feed.
        self.joined = [
            staff_group(user.business_id, user.role),
            user_group(user.business_id, user.pk),
        ]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        after = _after(self.scope.get("query_string", b""))
        current = await database_sync_to_async(stream_log.safe_bound)(0)
        if after is None or after > current:
            # A fresh tab, or an id this installation never gave: start from now.
            self.last_id = current
        else:
            self.last_id = after
            await self._replay(user.business_id, user.role, user.pk)
        await self.send_json(
            {"event": "stream.ready", "role": user.role, "stream_id": self.last_id}
        )
        self.keeping_up = asyncio.create_task(self._keep_up())

    async def _keep_up(self) -> None:
        while True:
            await asyncio.sleep(KEEP_UP_SECONDS)
            with contextlib.suppress(Exception):  # Redis down: the next look tries again
                await self.channel_layer.send(self.channel_name, {"type": "stream.check"})

    async def stream_check(self, message: dict[str, Any]) -> None:
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        current = await database_sync_to_async(stream_log.safe_bound)(0)
        if current > self.last_id:
            await self._fill(current)

    async def _replay(self, business_id: int, role: str, user_id: int) -> None:
        sent = 0
        while sent < MAX_REPLAY:
            missed = await database_sync_to_async(list_missed_events)(
                business_id, role, user_id, self.last_id, REPLAY_PAGE
            )
            for stream_id, event in missed:
                await self.send_json(event.as_message(stream_id))
                self.last_id = stream_id
            sent += len(missed)
            if len(missed) < REPLAY_PAGE:
                return
        await self.send_json({"event": "stream.gap", "stream_id": self.last_id})

    async def disconnect(self, code: int) -> None:
        if self.keeping_up is not None:
            self.keeping_up.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})
        elif isinstance(content, dict) and content.get("type") == "heartbeat":
            await self._heartbeat(content.get("active") is True)
        elif isinstance(content, dict) and content.get("type") == "typing":
            conversation = content.get("conversation")
            if type(conversation) is int and 0 < conversation < 2**53:
                await self._typing(conversation)

    async def _typing(self, conversation_id: int) -> None:
        """The user is writing an answer in the conversation (see routing.actions.typing);
        repeats within MIN_TYPING_INTERVAL are dropped."""
        now = time.monotonic()
        last_conversation, last_at = self.last_typing
        if last_conversation == conversation_id and now - last_at < MIN_TYPING_INTERVAL:
            return
        self.last_typing = (conversation_id, now)
        await database_sync_to_async(_record_typing)(self.scope["user"], conversation_id)

    async def _heartbeat(self, active: bool) -> None:
        """Presence (the agents' workspace beats every 20 s): the tab is open and, when
        `active`, was used since its last beat. Beats closer together than
        MIN_BEAT_INTERVAL are folded into the next one."""
        self.beat_active = self.beat_active or active
        now = time.monotonic()
        if now - self.last_beat < MIN_BEAT_INTERVAL:
            return
        self.last_beat = now
        active, self.beat_active = self.beat_active, False
        agent = await database_sync_to_async(_record_heartbeat)(self.scope["user"], active)
        await self.send_json({"event": "heartbeat.recorded", "data": {"agent": agent}})

    async def staff_events(self, message: dict[str, Any]) -> None:
        """A batch of the console consumer's events for one of this socket's groups, in
        stream order: each relayed as it would be alone."""
        for item in message["events"]:
            await self._relay(item["event"], item.get("prev"))

    async def _relay(self, event: dict[str, Any], prev: object) -> None:
        stream_id = event.get("stream_id")
        if isinstance(stream_id, int):
            if stream_id <= self.last_id:
                return  # replayed already, or a repeat after a batch ran again
            if isinstance(prev, int) and prev > self.last_id:
                await self._fill(stream_id - 1)
            self.last_id = stream_id
        await self.send_json(event)

    async def _fill(self, upto: int) -> None:
        """Relay from the log what this socket may see after its position, up to `upto`
        (every id below a live event's is settled: the console consumer reads in order)."""
        user = self.scope["user"]
        sent = 0
        while self.last_id < upto:
            if sent >= MAX_REPLAY:
                self.last_id = upto
                await self.send_json({"event": "stream.gap", "stream_id": upto})
                return
            missed = await database_sync_to_async(list_missed_events)(
                user.business_id, user.role, user.pk, self.last_id, REPLAY_PAGE, upto
            )
            for stream_id, event in missed:
                await self.send_json(event.as_message(stream_id))
                self.last_id = stream_id
            sent += len(missed)
            if len(missed) < REPLAY_PAGE:
                self.last_id = upto
