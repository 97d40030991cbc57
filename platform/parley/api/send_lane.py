"""The Cloud API's send at volume: `POST /{version}/{phone_number_id}/messages` served beside
Django's request handler.

An integration sending at its number's throughput (up to 1,000 messages a second) would spend
most of the web server's time in Django's per-request machinery, and one transaction per
message. The lane takes the plain sends off that path: the requests that arrive while a batch
is being written are checked together with the view's own code (`prepare_send`), counted
against the send limits in one Redis round trip (`limits.take_sends`) and accepted in one
transaction per number (`do_send_messages`), each with its `accepted` event on the stream,
then answered exactly as `MessagesView` answers.

Whatever the lane does not answer itself goes to Django unchanged, its body replayed: any
error (so every error has one implementation, the view's), mark-as-read, media (fetched or
copied when accepted), a query string, a session instead of a bearer token, an unusual
content type. `PARLEY["SEND_LANE"] = False` sends everything to Django."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.db import connection
from django.http.request import split_domain_port, validate_host

from parley.accounts.actions.tokens import authenticate_api_token
from parley.accounts.models import ApiToken, PhoneNumber
from parley.accounts.roles import Capability
from parley.accounts.selectors import get_number
from parley.api.base import supported_versions
from parley.api.message_wire import SendRequest, parse_message_request
from parley.api.messages import PreparedSend, prepare_send
from parley.api.wire import JsonRenderer, max_body_bytes, parse_json
from parley.core.group_commit import GroupCommit
from parley.core.http import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY
from parley.messaging import limits
from parley.messaging.actions import Outbound, do_send_messages

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[..., Awaitable[None]]  # Django's handler types its arguments its own way

_PATH = re.compile(r"/(v[0-9]{1,3}\.[0-9]{1,3})/([0-9]{1,18})/messages/?", re.ASCII)
# The most requests written in one transaction.
MAX_BATCH = 256

# What Django's middleware and DRF put on the view's answer (tests compare the two).
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"vary", b"Cookie"),
    (b"allow", b"POST, OPTIONS"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


@dataclasses.dataclass(frozen=True)
class LaneRequest:
    number_id: str
    secret: str
    body: bytes


def _bearer(scope: Scope) -> str:
    """The bearer secret of a request the lane may take, "" for any other (Django answers
    a Host it does not serve, for one)."""
    if scope["method"] != "POST" or scope.get("query_string"):
        return ""
    secret, content_type, host = "", "", ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if secret or scheme.lower() != b"bearer" or b"\x00" in token:
                return ""
            secret = token.strip().decode("latin-1")
        elif name == b"content-type":
            content_type = value.split(b";")[0].strip().lower().decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return ""
    return secret if content_type == "application/json" else ""


def _headers(length: int) -> list[tuple[bytes, bytes]]:
    headers = [*_HEADERS, (b"content-length", str(length).encode())]
    if settings.SECURE_HSTS_SECONDS:
        # Django sends it on requests that came over HTTPS; clients ignore it over HTTP.
        age = f"max-age={settings.SECURE_HSTS_SECONDS}".encode()
        headers.append((b"strict-transport-security", age))
    return headers


def _prepare(
    request: LaneRequest,
    tokens: dict[str, ApiToken | None],  # a secret's token, None when it may not send
    numbers: dict[tuple[int, str], PhoneNumber],
) -> PreparedSend | None:
    """The view's checks for one request; None for anything but a plain send that passes
    them all (Django answers it, errors included)."""
    try:
        if request.secret not in tokens:
            token = authenticate_api_token(request.secret)
            allowed = token is not None and token.can(Capability.SEND_MESSAGES)
            tokens[request.secret] = token if allowed else None
        token = tokens[request.secret]
        if token is None:
            return None
        key = (token.business_id, request.number_id)
        if key not in numbers:
            numbers[key] = get_number(token.business, request.number_id)
        parsed = parse_message_request(parse_json(request.body))
        if not isinstance(parsed, SendRequest) or parsed.media is not None:
            return None
        return prepare_send(numbers[key], parsed)
    except Exception:  # an error the view reports in Meta's envelope
        return None


def accept_batch(requests: list[LaneRequest]) -> list[bytes | None]:
    """Accept what can be accepted of `requests`: each one's answer (a 200's body), or None
    where Django must answer it."""
    tokens: dict[str, ApiToken | None] = {}
    numbers: dict[tuple[int, str], PhoneNumber] = {}
    prepared = [_prepare(r, tokens, numbers) for r in requests]
    todo = [(i, p) for i, p in enumerate(prepared) if p is not None]
    refusals = limits.take_sends([(p.number, p.customer) for _, p in todo])
    by_number: dict[int, list[tuple[int, PreparedSend]]] = {}
    for (i, p), refused in zip(todo, refusals, strict=True):
        # A refused send counted nothing: the view counts it again and answers the error.
        if refused is None:
            by_number.setdefault(p.number.pk, []).append((i, p))
    answers: list[bytes | None] = [None] * len(requests)
    renderer = JsonRenderer()
    for group in by_number.values():
        sends = [Outbound(p.customer, p.content, reply_to=p.reply_to) for _, p in group]
        try:
            messages = do_send_messages(group[0][1].number, sends)
        except Exception:
            log.exception("accepting %d sends together failed; Django answers each", len(sends))
            continue
        for (i, p), message in zip(group, messages, strict=True):
            answers[i] = renderer.render(p.answer(message.wamid))
    return answers


class SendLane:
    """ASGI middleware in front of Django's HTTP handler (see the module's docstring)."""

    def __init__(self, app: Asgi) -> None:
        self.app = app
        # `accept_batch` is looked up at each batch (tests count the batches through it).
        self._batches: GroupCommit[LaneRequest, bytes | None] = GroupCommit(
            lambda requests: accept_batch(requests),
            name="send-lane",
            parallel=_parallel,
            max_batch=MAX_BATCH,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        secret = _bearer(scope) if match is not None else ""
        if (
            match is None
            or not secret
            or not settings.PARLEY["SEND_LANE"]
            or match.group(1) not in supported_versions()
        ):
            await self.app(scope, receive, send)
            return
        assert match is not None
        body, complete = await _read(receive, max_body_bytes())
        answer = None
        if complete and body.strip():
            try:
                answer = await self._batches.submit(LaneRequest(match.group(2), secret, body))
            except Exception:  # logged with its batch: Django answers each request of it
                answer = None
        if answer is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        headers = _headers(len(answer))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _parallel() -> int:
    """Batches written at once: SQLite writes one transaction at a time, so a second batch
    would only wait."""
    if connection.vendor != "postgresql":
        return 1
    return int(settings.PARLEY["SEND_LANE_PARALLEL"])


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The request body up to `limit` bytes, and whether that is all of it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for Django: what the lane read, then the rest from the client."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again
