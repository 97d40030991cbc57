"""The relay's API for asyncio clients (aiohttp): what thousands of handsets in one process
share — one HTTP connection pool and one websocket per online device.

The protocol work itself stays in :class:`~e2ee.client.client.SignalClient` (pure and
synchronous; with the Django store it belongs in a worker thread), so this module only moves
bytes: the device websocket, acks, and receipts."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from e2ee.client.relay import RelayError, b64


def basic_auth(credential: str) -> str:
    return "Basic " + b64(credential.encode())


class AsyncRelay:
    """One relay, many devices: every call names the device's credential."""

    def __init__(self, base_url: str, *, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_url = (
            self.base_url.replace("https://", "wss://").replace("http://", "ws://") + "/ws/relay/"
        )
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No connection limit: each online handset holds its own websocket.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
                timeout=self.timeout,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, credential: str, body: Any = None) -> Any:
        headers = {"Authorization": basic_auth(credential)}
        data = json.dumps(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self.session.request(
                method, self.base_url + path, data=data, headers=headers
            ) as response:
                raw = await response.read()
                payload = json.loads(raw) if raw else None
                if response.status >= 400:
                    raise RelayError(response.status, payload)
                return payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RelayError(0, {"error": {"message": f"relay unreachable: {exc}"}}) from None
        except ValueError:
            raise RelayError(0, {"error": {"message": "the relay answered non-JSON"}}) from None

    async def read_receipt(self, credential: str, guid: str) -> None:
        await self.call("POST", f"/relay/v1/receipts/{guid}", credential, {"kind": "read"})

    async def websocket(
        self, credential: str, *, open_timeout: float = 15
    ) -> aiohttp.ClientWebSocketResponse:
        """The device's websocket (frames: see the relay's API.md)."""
        return await self.session.ws_connect(
            self.ws_url,
            headers={"Authorization": basic_auth(credential)},
            origin=self.base_url,  # Channels' AllowedHostsOriginValidator wants one
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
            autoping=True,
            heartbeat=None,
            max_msg_size=1024 * 1024,
            compress=0,
        )
