"""A device talking to a live relay (the `asgi_server` fixture) over real HTTP and websockets."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.parley.relay.conftest import VERIFY, b64, ec_key, new_number, sms_code


def http(base: str, method: str, path: str, body: Any = None, auth: str = "") -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def live_verified_session(base: str, number: str) -> str:
    """Verify `number` against the live relay; the SMS is read from the simulated carrier."""
    status, body = http(base, "POST", VERIFY, {"number": number})
    assert status == 201, body
    session_id = str(body["id"])
    status, body = http(base, "POST", f"{VERIFY}/{session_id}/code", {"transport": "sms"})
    assert status == 200, body
    status, body = http(base, "PUT", f"{VERIFY}/{session_id}/code", {"code": sms_code(number)})
    assert status == 200 and body["verified"] is True, body
    return session_id


class LiveDevice:
    def __init__(self, base: str, number: str | None = None) -> None:
        self.base = base
        number = number or new_number()
        status, body = http(base, "POST", "/relay/v1/accounts", {
            "number": number, "registration_id": 42, "identity_key": b64(ec_key()),
            "session_id": live_verified_session(base, number),
        })  # fmt: skip
        assert status in (200, 201), body
        self.number: str = body["number"]
        self.credential: str = body["credential"]

    @property
    def auth(self) -> str:
        return "Basic " + base64.b64encode(self.credential.encode()).decode()

    def send(self, to: LiveDevice, content: bytes) -> str:
        status, body = http(self.base, "PUT", f"/relay/v1/messages/{to.number}", {
            "timestamp": 1_772_000_000_000,
            "messages": [{"type": 1, "destination_device_id": 1, "content": b64(content)}],
        }, auth=self.auth)  # fmt: skip
        assert status == 200, body
        return str(body["messages"][0]["guid"])

    def websocket(self, *, header: bool = True) -> ClientConnection:
        ws_url = self.base.replace("http://", "ws://") + "/ws/relay/"
        return connect(
            ws_url,
            origin=Origin(self.base),  # channels' AllowedHostsOriginValidator wants one
            additional_headers={"Authorization": self.auth} if header else None,
            open_timeout=10,
        )


def receive(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=timeout)))
