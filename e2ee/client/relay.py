"""The relay's HTTP and websocket API as a client sees it (stdlib HTTP, `websockets` sync)."""

from __future__ import annotations

import base64
import functools
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

DEFAULT_RELAY_URL = "http://127.0.0.1:8000"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


class RelayError(Exception):
    """The relay answered with an error envelope (or could not be reached: status 0)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        error = self.body.get("error", {}) if isinstance(self.body.get("error"), dict) else {}
        self.message = str(error.get("message") or body)
        self.error_data: dict[str, Any] = dict(error.get("error_data") or {})
        super().__init__(f"relay {status}: {self.message}")


class _BoundHttpHandler(urllib.request.HTTPHandler):
    """Plain HTTP from a given local address (a simulated phone's own address)."""

    def __init__(self, source_address: str) -> None:
        super().__init__()
        self.source_address = source_address

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(http.client.HTTPConnection, source_address=(self.source_address, 0)),
            req,
        )


class RelayHttp:
    def __init__(
        self,
        base_url: str,
        credential: str | None = None,
        timeout: float = 15,
        *,
        source_address: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout
        self.source_address = source_address

    @property
    def auth(self) -> str:
        if self.credential is None:
            raise RelayError(0, {"error": {"message": "this device is not registered"}})
        return "Basic " + b64(self.credential.encode())

    def call(
        self, method: str, path: str, body: Any = None, *, auth: str | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", auth if auth is not None else self.auth)
        try:
            opener = (
                urllib.request.build_opener(_BoundHttpHandler(self.source_address))
                if self.source_address
                else None
            )
            open_ = opener.open if opener else urllib.request.urlopen
            with open_(request, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = {"error": {"message": raw[:200].decode(errors="replace")}}
            raise RelayError(exc.code, payload) from None
        except urllib.error.URLError as exc:
            raise RelayError(
                0, {"error": {"message": f"relay unreachable: {exc.reason}"}}
            ) from None

    # -- the API -------------------------------------------------------------------------

    def register(self, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        auth = f"Bearer {token}" if token else ""
        return dict(self.call("POST", "/relay/v1/accounts", body, auth=auth)[1])

    def start_verification(self, number: str) -> dict[str, Any]:
        body = {"number": number}
        return dict(self.call("POST", "/relay/v1/verification/session", body, auth="")[1])

    def request_verification_code(self, session_id: str) -> dict[str, Any]:
        path = f"/relay/v1/verification/session/{urllib.parse.quote(session_id)}/code"
        return dict(self.call("POST", path, {"transport": "sms"}, auth="")[1])

    def submit_verification_code(self, session_id: str, code: str) -> dict[str, Any]:
        path = f"/relay/v1/verification/session/{urllib.parse.quote(session_id)}/code"
        return dict(self.call("PUT", path, {"code": code}, auth="")[1])

    def set_registration_lock(self, pin: str) -> dict[str, Any]:
        body = {"pin": pin}
        return dict(self.call("PUT", "/relay/v1/accounts/registration-lock", body)[1])

    def clear_registration_lock(self) -> dict[str, Any]:
        return dict(self.call("DELETE", "/relay/v1/accounts/registration-lock")[1])

    def set_business_block(self, blocked: bool = True) -> dict[str, Any]:
        """Block (or unblock) every business: the relay refuses their messages to us."""
        method = "PUT" if blocked else "DELETE"
        return dict(self.call(method, "/relay/v1/accounts/business-block")[1])

    def upload_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.call("PUT", "/relay/v1/keys", body)[1])

    def key_count(self) -> dict[str, Any]:
        return dict(self.call("GET", "/relay/v1/keys/count")[1])

    def bundles(self, number: str, device: str = "*") -> dict[str, Any]:
        quoted = urllib.parse.quote(number)
        return dict(self.call("GET", f"/relay/v1/keys/{quoted}/{device}")[1])

    def send(self, number: str, timestamp: int, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"timestamp": timestamp, "messages": messages}
        return dict(self.call("PUT", f"/relay/v1/messages/{urllib.parse.quote(number)}", body)[1])

    def send_batch(self, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several recipients' messages in one request (each part: destination, timestamp,
        messages); one result per part, in order, each with its own status."""
        body = self.call("PUT", "/relay/v1/messages/batch", {"batch": parts})[1]
        return list(body["results"])

    def fetch(self) -> tuple[list[dict[str, Any]], bool]:
        body = self.call("GET", "/relay/v1/messages")[1]
        return list(body["messages"]), bool(body["more"])

    def ack(self, guid: str) -> None:
        self.call("DELETE", f"/relay/v1/messages/{guid}")

    def ack_many(self, guids: list[str]) -> int:
        """Acknowledge several envelopes in one request; returns how many were still queued."""
        return int(
            self.call("POST", "/relay/v1/messages/acks", {"guids": guids})[1]["acknowledged"]
        )

    def read_receipt(self, guid: str) -> None:
        self.call("POST", f"/relay/v1/receipts/{guid}", {"kind": "read"})

    def typing_indicator(self, guid: str) -> None:
        """Tell the sender of a received message that an answer is being written."""
        self.call("POST", f"/relay/v1/receipts/{guid}", {"kind": "typing"})

    def identity(self, number: str, since_ms: int = 0) -> dict[str, Any]:
        path = f"/relay/v1/identity/{urllib.parse.quote(number)}?since={since_ms}"
        return dict(self.call("GET", path)[1])

    def websocket(self, open_timeout: float = 10) -> ClientConnection:
        url = self.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return connect(
            url + "/ws/relay/",
            origin=Origin(self.base_url),  # Channels' AllowedHostsOriginValidator wants one
            additional_headers={"Authorization": self.auth},
            open_timeout=open_timeout,
        )


def ws_frames(ws: ClientConnection, timeout: float) -> Iterator[dict[str, Any]]:
    """Frames from the relay's websocket until ``timeout`` seconds pass without one."""
    while True:
        try:
            raw = ws.recv(timeout=timeout)
        except TimeoutError:
            return
        yield dict(json.loads(raw))
