"""The staff event stream: one websocket per console tab, fed by the realtime fan-out."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from parley.accounts.middleware import VERIFIED_KEY
from parley.core.realtime import staff_group


class StaffEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        verified = session is not None and await database_sync_to_async(session.get)(VERIFIED_KEY)
        if user is None or not user.is_authenticated or not user.is_active or not verified:
            await self.close(code=4401)
            return
        self.group = staff_group(user.business_id, user.role)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "stream.ready", "role": user.role})

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})

    async def staff_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
