"""Every API error in the Graph API's envelope:
{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from parley.core.errors import ParleyError, RateLimited
from parley.core.ids import new_fbtrace_id

log = logging.getLogger(__name__)

# A message repeats what the caller sent at most this far.
MAX_MESSAGE_CHARS = 1000


def _printable(message: str) -> str:
    # An unpaired surrogate the caller sent cannot be encoded as UTF-8: escape it.
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def envelope(
    message: str,
    *,
    code: int,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    error_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": _printable(message), "type": error_type, "code": code}
    if subcode is not None:
        body["error_subcode"] = subcode
    body["fbtrace_id"] = new_fbtrace_id()
    if error_data is not None:
        body["error_data"] = error_data
    return {"error": body}


def error_envelope(exc: ParleyError) -> dict[str, Any]:
    """Meta's envelope for one of our errors."""
    return envelope(
        exc.message,
        code=exc.code,
        error_type=exc.error_type,
        subcode=exc.subcode,
        error_data=exc.error_data(),
    )


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}")
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}: {detail}" if prefix else str(detail)]


def meta_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ParleyError):
        status = exc.http_status
        body = error_envelope(exc)
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, drf.NotAuthenticated):
        status = 401
        body = envelope("An access token is required to request this resource.", code=190)
    elif isinstance(exc, drf.AuthenticationFailed):
        status = 401
        body = envelope(str(exc.detail), code=190)
    elif isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        status = 403
        body = envelope("Application does not have permission for this action", code=10)
    elif isinstance(exc, drf.ParseError):
        status = 400
        body = envelope(f"(#100) Invalid JSON in the request body: {exc.detail}", code=100)
    elif isinstance(exc, drf.UnsupportedMediaType):
        status = 415
        body = envelope("(#100) Send the request body as application/json.", code=100)
    elif isinstance(exc, drf.ValidationError):
        status = 400
        body = envelope("(#100) Invalid parameter: " + "; ".join(_flatten(exc.detail)), code=100)
    elif isinstance(exc, drf.MethodNotAllowed):
        status = 405
        method = context["request"].method if context.get("request") is not None else ""
        body = envelope(f"(#100) Unsupported request method: {method}", code=100)
    elif isinstance(exc, drf.Throttled):
        status = 429
        body = envelope("(#4) Application request limit reached", code=4)
    elif isinstance(exc, Http404 | drf.NotFound):
        status = 404
        body = envelope("Unsupported request - the object does not exist.", code=100, subcode=33)
    elif isinstance(exc, RequestDataTooBig):
        status = 413
        body = envelope("(#100) The request body is too large.", code=100)
    elif isinstance(exc, drf.APIException):
        status = exc.status_code
        body = envelope(str(exc.detail), code=100)
    else:
        # A defect: logged with its traceback, answered in the envelope, never an HTML page.
        log.error("API request failed", exc_info=exc)
        status = 500
        body = envelope(
            "An unexpected error has occurred. Please retry your request later.", code=2
        )
    return Response(body, status=status, headers=headers)


def api_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        envelope(
            f"Unknown path components: {request.path}", code=2500, error_type="OAuthException"
        ),
        status=404,
    )


def api_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        envelope(
            "An unexpected error has occurred. Please retry your request later.",
            code=2,
            error_type="OAuthException",
        ),
        status=500,
    )
