"""The relay's API for a client in this process: Parley's own business endpoints, which run
in the workers next to the relay's code.

A call names the same method and path, and carries the same `Authorization` and JSON body,
as it would over HTTP; it is answered by the same handlers as the HTTP views
(`parley.relay.handlers`) after the same checks: the body goes through the API's JSON
parser (size, depth, duplicate keys, NUL, numbers beyond 64 bits) and the view's
serializer, the device is authenticated by its credential (and seen today) on a client's
first call (an endpoint's client lives for one turn of its work), and an error is Meta's
envelope with the status the view would answer. What differs is only what is skipped:
building an HTTP request and running it through Django's middleware and DRF's dispatch,
which cost a third of each call when the endpoint sent through the whole handler.

Only the calls an endpoint makes per message are served here (send, fetch, acks,
receipts); `answer` returns None for any other, which then goes through the whole
handler."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from django.urls import Resolver404, resolve
from rest_framework import exceptions as drf

from parley.api.errors import meta_exception_handler
from parley.api.wire import max_body_bytes, parse_json
from parley.core.errors import AuthenticationFailed, InvalidParameter, PayloadTooLarge
from parley.relay import handlers
from parley.relay import serializers as s
from parley.relay.auth import authenticate_header_value
from parley.relay.models import Device


class RelayAnswer(Exception):
    """An error answer: its HTTP status and Meta's envelope, as the view renders it."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"relay {status}")
        self.status = status
        self.body = body


@dataclasses.dataclass(frozen=True)
class _Route:
    # The serializer of the body (None: the body is not read).
    serializer: type[Any] | None
    # (device, validated body, path arguments) → the answer's JSON.
    run: Callable[[Device, dict[str, Any], dict[str, Any]], Any]
    status: int = 200


def _receipt(device: Device, data: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    return handlers.receipt(device, kwargs["guid"], data.get("kind") or "read")


def _ack(device: Device, data: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    handlers.ack(device, kwargs["guid"])


# (URL name, method) → what answers it; the URL names are the relay's own (urls.py).
_ROUTES: dict[tuple[str, str], _Route] = {
    ("relay-send-batch", "PUT"): _Route(s.BatchIn, lambda d, b, _: handlers.send_batch(d, b)),
    ("relay-send", "PUT"): _Route(s.MessagesIn, lambda d, b, k: handlers.send(d, k["number"], b)),
    ("relay-messages", "GET"): _Route(None, lambda d, _b, _k: handlers.fetch(d)),
    ("relay-acks", "POST"): _Route(s.AcksIn, lambda d, b, _: handlers.ack_many(d, b)),
    ("relay-ack", "DELETE"): _Route(None, _ack, status=204),
    ("relay-receipt", "POST"): _Route(s.ReceiptIn, _receipt),
}


def _route(method: str, path: str) -> tuple[_Route, dict[str, Any]] | None:
    if "?" in path or "\x00" in path:
        return None  # a query string or a NUL: the whole handler's checks
    try:
        match = resolve(path)
    except Resolver404:
        return None
    route = _ROUTES.get((match.url_name or "", method))
    return None if route is None else (route, dict(match.kwargs))


def _body(route: _Route, body: Any) -> dict[str, Any]:
    """The body as the view sees it once parsed (the API's JSON parser) and validated."""
    if route.serializer is None:
        return {}
    raw = json.dumps(body).encode() if body is not None else b""
    limit = max_body_bytes()
    if len(raw) > limit:
        raise PayloadTooLarge(f"(#100) The request body is larger than {limit} bytes.")
    data = parse_json(raw) if raw.strip() else {}
    if route.serializer is s.ReceiptIn and not data:
        return {}  # as the view: no body means a read receipt
    if not isinstance(data, dict):
        raise drf.ValidationError({"body": ["must be a JSON object"]})
    serializer = route.serializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _device(authorization: str) -> Device:
    """As the views' DeviceAuthentication: no header is 401 (a credential is required), a
    credential that names no device is 401 too."""
    if "\x00" in authorization:
        raise InvalidParameter("(#100) Invalid parameter: the Authorization header contains NUL.")
    if not authorization:
        raise drf.NotAuthenticated()
    device = authenticate_header_value(authorization)
    if device is None:
        raise AuthenticationFailed("Invalid device credential.")
    return device


def answer(
    method: str,
    path: str,
    body: Any,
    authorization: str,
    *,
    known: dict[str, Device] | None = None,
) -> tuple[int, Any] | None:
    """The relay's answer to a call (its status and JSON), None when this module does not
    serve the call (use the HTTP handler). Raises RelayAnswer for an error answer. With
    `known`, a caller's devices already authenticated (by Authorization value): a client's
    calls in one turn of its work authenticate once."""
    found = _route(method.upper(), path)
    if found is None:
        return None
    route, kwargs = found
    try:
        device = known.get(authorization) if known is not None else None
        if device is None:
            device = _device(authorization)
            if known is not None:
                known[authorization] = device
        payload = route.run(device, _body(route, body), kwargs)
    except Exception as exc:
        response = meta_exception_handler(exc, {})
        assert response is not None
        raise RelayAnswer(response.status_code, response.data) from exc
    return route.status, payload
