"""The one base of every REST surface: the Cloud API paths (`/{version}/…`), Parley's own
endpoints (`/parley/v1/…`) and the relay (`/relay/v1/…`).

`ApiView` checks, in this order: the request's text (no NUL anywhere), the Graph API version
of Cloud API paths, the method (405 before any authentication), then authentication and
permissions; bodies are parsed by `BoundedJsonParser` (size, depth, duplicate keys, NUL,
unpaired surrogates, numbers beyond 64 bits), errors render Meta's envelope
(`parley.api.errors`) and lists paginate with Graph-style cursors. A view states only what
differs (its authentication, its permissions, its serializers)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, cast

from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions as drf
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from parley.api.wire import (
    BoundedJsonParser,
    JsonOnlyNegotiation,
    JsonRenderer,
    parse_json,
    safe_text,
)
from parley.core.errors import InvalidParameter, UnknownPath

__all__ = ["ApiView", "parse_json", "safe_text", "valid"]

_INT64 = 2**63 - 1

# --- query parameters and path segments (ASCII only: `\d` and isdigit() accept other
# scripts' digits, which int() or compare_digest then refuse) ----------------------------

_ASCII_INT = re.compile(r"^-?[0-9]{1,18}$")
_VERSION = re.compile(r"^v([0-9]{1,3})\.([0-9]{1,3})$")


def ascii_int(raw: str, name: str, *, minimum: int, maximum: int) -> int:
    if not _ASCII_INT.match(raw) or not minimum <= int(raw) <= maximum:
        raise InvalidParameter(
            f"(#100) Invalid parameter: {name} must be a whole number from {minimum} to {maximum}.",
            field=name,
        )
    return int(raw)


def query_int(
    request: Request, name: str, *, default: int, minimum: int = 0, maximum: int = _INT64
) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return ascii_int(raw, name, minimum=minimum, maximum=maximum)


def query_time(request: Request, name: str) -> dt.datetime | None:
    """A query parameter that is a Unix timestamp in seconds, or an ISO 8601 date-time (UTC
    when it names no offset); None when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if re.fullmatch(r"[0-9]{1,11}", raw, flags=re.ASCII):
        return dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
    try:
        parsed = parse_datetime(raw) if len(raw) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidParameter(
            f"(#100) Invalid parameter: {name} must be a Unix timestamp or an ISO 8601 date-time.",
            field=name,
        )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def query_text(request: Request, name: str, pattern: str, *, hint: str, default: str = "") -> str:
    """A query parameter that must match an ASCII `pattern` (anchored); absent is `default`."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(pattern, raw, flags=re.ASCII):
        raise InvalidParameter(f"(#100) Invalid parameter: {name} {hint}.", field=name)
    return raw


def version_range() -> tuple[tuple[int, int], tuple[int, int]]:
    def parse(raw: str) -> tuple[int, int]:
        match = _VERSION.match(raw)
        if match is None:
            raise ValueError(f"API version setting {raw!r} must look like v23.0")
        return int(match.group(1)), int(match.group(2))

    return parse(settings.PARLEY["API_VERSION_MIN"]), parse(settings.PARLEY["API_VERSION_MAX"])


def supported_versions() -> list[str]:
    """Graph API versions are vN.0."""
    (low_major, _), (high_major, _) = version_range()
    return [f"v{major}.0" for major in range(low_major, high_major + 1)]


def check_version(version: str, path: str) -> None:
    """As the Graph API: an unknown version makes the rest of the path unknown (400, 2500)."""
    if version not in supported_versions():
        rest = path.split("/", 2)[2] if path.count("/") >= 2 else ""
        raise UnknownPath(
            f"Unknown path components: /{safe_text(rest, 100)} (API version "
            f"{safe_text(version, 20)} is not supported; use "
            f"{settings.PARLEY['API_VERSION_MIN']} to {settings.PARLEY['API_VERSION_MAX']})"
        )


def _check_request_text(request: Request) -> None:
    """NUL never reaches a lookup: PostgreSQL text cannot hold it."""
    raw = request._request
    if "\x00" in raw.path or "\x00" in raw.META.get("QUERY_STRING", ""):
        raise InvalidParameter("(#100) Invalid parameter: the URL contains a NUL character.")
    if any("\x00" in v for values in request.query_params.lists() for v in values[1]):
        raise InvalidParameter("(#100) Invalid parameter: a query parameter contains NUL.")
    if "\x00" in raw.META.get("HTTP_AUTHORIZATION", ""):
        raise InvalidParameter("(#100) Invalid parameter: the Authorization header contains NUL.")


# --- pagination ----------------------------------------------------------------------------


class MetaCursorPagination(BasePagination):
    """The Graph API's paging: `{"data": [...], "paging": {"cursors": {"before", "after"},
    "next"?}}`. A cursor is opaque to clients (today the row id); `limit` caps a page."""

    page_size = 100
    max_page_size = 1000
    # A log read newest first: `after` continues to older rows.
    newest_first = False

    def __init__(self) -> None:
        self.after: str | None = None
        self.before: str | None = None
        self.has_next = False
        self.request: Request | None = None

    @staticmethod
    def encode(pk: int) -> str:
        return str(pk)

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        limit = query_int(
            request, "limit", default=self.page_size, minimum=1, maximum=self.max_page_size
        )
        after = query_int(request, "after", default=-1, minimum=0, maximum=_INT64)
        qs = queryset.order_by("-pk" if self.newest_first else "pk")
        if after >= 0:
            qs = qs.filter(pk__lt=after) if self.newest_first else qs.filter(pk__gt=after)
        rows: list[Model] = list(qs[: limit + 1])
        self.has_next = len(rows) > limit
        rows = rows[:limit]
        if rows:
            self.before = self.encode(cast(int, rows[0].pk))
            self.after = self.encode(cast(int, rows[-1].pk))
        return rows

    def paging(self) -> dict[str, Any]:
        paging: dict[str, Any] = {"cursors": {}}
        if self.before is not None and self.after is not None:
            paging["cursors"] = {"before": self.before, "after": self.after}
        if self.has_next and self.request is not None and self.after is not None:
            params = self.request.query_params.copy()
            params["after"] = self.after
            paging["next"] = self.request.build_absolute_uri(
                self.request.path + "?" + params.urlencode()
            )
        return paging

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"data": data, "paging": self.paging()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return paged_schema(schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Rows per page, 1 to {self.max_page_size}.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "The `paging.cursors.after` of the previous page.",
                "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
            },
        ]


def paged_schema(items: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "paging"],
        "properties": {
            "data": items,
            "paging": {
                "type": "object",
                "required": ["cursors"],
                "properties": {
                    "cursors": {
                        "type": "object",
                        "properties": {
                            "before": {"type": "string"},
                            "after": {"type": "string"},
                        },
                    },
                    "next": {"type": "string", "format": "uri"},
                },
            },
        },
    }


# --- the view ------------------------------------------------------------------------------


class ApiView(APIView):
    """Base of every API view. Subclasses set `authentication_classes` and
    `permission_classes` where they differ from the defaults (a Business API token), and
    `error_statuses` for statuses beyond the common ones (e.g. 409, 423, 429), which the
    schema documents."""

    parser_classes = [BoundedJsonParser]
    renderer_classes = [JsonRenderer]
    content_negotiation_class = JsonOnlyNegotiation
    pagination_class: ClassVar[type[BasePagination] | None] = MetaCursorPagination
    error_statuses: ClassVar[tuple[int, ...]] = ()

    def get_exception_handler(self) -> Any:
        from parley.api.errors import meta_exception_handler

        return meta_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _check_request_text(request)
        version = kwargs.get("version")
        if version is not None:
            check_version(str(version), request.path)
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            # Before authentication: an unsupported method is 405 for everyone.
            raise drf.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)

    def valid(self, serializer_class: type[Any], request: Request) -> dict[str, Any]:
        return valid(serializer_class, request)

    def paginate(self, queryset: QuerySet[Any], request: Request) -> tuple[list[Any], Any]:
        """One page of `queryset` and the paginator that renders it."""
        assert self.pagination_class is not None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return list(page or []), paginator


def valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    """The request body, validated by `serializer_class`; the body must be a JSON object."""
    if not isinstance(request.data, dict):
        raise drf.ValidationError({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)
