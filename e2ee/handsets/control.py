"""The fleet's control channel as other processes use it (the `handset` command, tests,
the console): a small synchronous HTTP client of the API in `e2ee.handsets.fleet`."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from e2ee.handsets.conf import control_token, control_url


class FleetUnavailable(Exception):
    """No fleet answers at the control URL."""


class FleetRefused(Exception):
    """The fleet answered with an error the caller can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FleetControl:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 120):
        self.url = (url or control_url()).rstrip("/")
        self.token = token or control_token()
        self.timeout = timeout

    def call(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"the fleet answered {exc.code}"
            raise FleetRefused(exc.code, str(message)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise FleetUnavailable(f"no handset fleet at {self.url}: {exc}") from None

    def available(self) -> bool:
        """Whether a fleet of this installation answers (a short probe)."""
        try:
            self.call("GET", "/v1/health", timeout=1.0)
        except (FleetUnavailable, FleetRefused):
            return False
        return True

    # -- operations ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return dict(self.call("GET", "/v1/health"))

    def list_handsets(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v1/handsets")["handsets"])

    def get(self, number: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/v1/handsets/{number}"))

    def create(
        self,
        number: str,
        *,
        online: bool = True,
        read_delay_seconds: float | None = None,
        pin: str | None = None,
        reinstall: bool = False,
        business_id: int | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"number": number, "online": online,
                                "read_delay_seconds": read_delay_seconds, "pin": pin,
                                "reinstall": reinstall}  # fmt: skip
        if business_id is not None:
            body["business_id"] = business_id
        if language is not None:
            body["language"] = language
        return dict(self.call("POST", "/v1/handsets", body))

    def create_many(
        self, numbers: list[str], *, online: bool = True, read_delay_seconds: float | None = None
    ) -> dict[str, Any]:
        body = {"numbers": numbers, "online": online, "read_delay_seconds": read_delay_seconds}
        return dict(self.call("POST", "/v1/handsets", body, timeout=max(self.timeout, 600)))

    def set_online(self, number: str, online: bool) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/v1/handsets/{number}", {"online": online}))

    def set_blocks(self, number: str, blocked: bool) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/v1/handsets/{number}", {"blocks_businesses": blocked}))

    def set_read_delay(self, number: str, seconds: float | None) -> dict[str, Any]:
        return dict(self.call("PATCH", f"/v1/handsets/{number}", {"read_delay_seconds": seconds}))

    def send_text(
        self, number: str, to: str, text: str, *, reply_to: str | None = None,
        payload: str | None = None,
    ) -> list[str]:  # fmt: skip
        body = {"to": to, "type": "text", "text": text, "reply_to": reply_to, "payload": payload}
        return list(self.call("POST", f"/v1/handsets/{number}/messages", body)["guids"])

    def send_file(
        self, number: str, to: str, data: bytes, *, file_name: str, mime_type: str = "",
        caption: str = "",
    ) -> list[str]:  # fmt: skip
        body = {"to": to, "type": "file", "data": base64.b64encode(data).decode(),
                "file_name": file_name, "mime_type": mime_type, "text": caption}  # fmt: skip
        return list(self.call("POST", f"/v1/handsets/{number}/messages", body)["guids"])

    def send_location(
        self, number: str, to: str, latitude: float, longitude: float, *, name: str = "",
        address: str = "",
    ) -> list[str]:  # fmt: skip
        body = {"to": to, "type": "location", "latitude": latitude, "longitude": longitude,
                "name": name, "address": address}  # fmt: skip
        return list(self.call("POST", f"/v1/handsets/{number}/messages", body)["guids"])

    def inbox(self, number: str, *, read: bool = False) -> list[dict[str, Any]]:
        return list(self.call("POST", f"/v1/handsets/{number}/inbox", {"read": read})["items"])

    def send(self, number: str, body: dict[str, Any]) -> list[str]:
        """Any message the fleet sends (`{to, type, …}` as the control API takes it)."""
        return list(self.call("POST", f"/v1/handsets/{number}/messages", body)["guids"])

    def send_reply_tap(self, number: str, to: str, reply_id: str, title: str) -> list[str]:
        """The tap of a reply button, a list row or a suggested reply."""
        body = {"to": to, "type": "interactive_reply", "id": reply_id, "title": title}
        return self.send(number, body)

    def send_action_tap(self, number: str, to: str, postback: str, *, text: str = "") -> list[str]:
        """The tap of an RCS suggested action (its postback)."""
        return self.send(number, {"to": to, "type": "action_tap", "postback": postback,
                                  "text": text})  # fmt: skip

    def send_reaction(self, number: str, to: str, message_id: str, emoji: str) -> list[str]:
        body = {"to": to, "type": "reaction", "message_id": message_id, "emoji": emoji}
        return self.send(number, body)

    def send_contacts(self, number: str, to: str, contacts: list[dict[str, Any]]) -> list[str]:
        return self.send(number, {"to": to, "type": "contacts", "contacts": contacts})

    def read(self, number: str) -> list[str]:
        """The user opens the chats: read receipts for everything not read yet."""
        return list(self.call("POST", f"/v1/handsets/{number}/read", {})["guids"])

    def history(self, number: str, peer: str | None = None) -> list[dict[str, Any]]:
        """What the phone shows, both directions, oldest first."""
        query = "?" + urllib.parse.urlencode({"peer": peer}) if peer else ""
        return list(self.call("GET", f"/v1/handsets/{number}/history{query}")["items"])
