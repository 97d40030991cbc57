"""The wire format of every REST surface, wired into REST_FRAMEWORK's settings (so this module
never imports DRF's views): bodies are parsed with bounded size and depth and answered as JSON
whatever `Accept` says."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from parley.core.errors import InvalidParameter, PayloadTooLarge

# --- request bodies ------------------------------------------------------------------------

# A JSON string (escapes included) or one bracket: strings are skipped whole, so brackets
# inside them do not count.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# PostgreSQL text cannot hold NUL, and an unpaired surrogate cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT64 = 2**63 - 1


class InvalidJson(InvalidParameter):
    pass


def max_json_depth() -> int:
    return int(settings.PARLEY.get("API_MAX_JSON_DEPTH", 32))


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 5 * 1024 * 1024)


def _check_depth(text: str, limit: int) -> None:
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise InvalidJson(
                    f"(#100) Invalid JSON in the request body: nested deeper than {limit} levels."
                )
        elif token in "]}":
            depth -= 1


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise InvalidJson(
                f"(#100) Invalid JSON in the request body: duplicate key {safe_text(key, 40)!r}."
            )
        value[key] = item
    return value


def _int(raw: str) -> int:
    # Bounded before int(): a long digit string is refused without converting it.
    if len(raw.lstrip("-")) > 19 or abs(int(raw)) > _INT64:
        raise InvalidJson("(#100) Invalid JSON in the request body: a number exceeds 64 bits.")
    return int(raw)


def _float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise InvalidJson("(#100) Invalid JSON in the request body: a number is out of range.")
    return value


def _constant(raw: str) -> Any:
    raise InvalidJson(f"(#100) Invalid JSON in the request body: {raw} is not JSON.")


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise InvalidJson(
                    "(#100) Invalid parameter: strings must not contain NUL characters or "
                    "unpaired surrogates."
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(raw: bytes) -> Any:
    """Parse a request body: UTF-8, bounded depth, no duplicate keys, no NaN/Infinity, numbers
    within 64 bits, strings PostgreSQL can store. Raises `InvalidParameter`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJson("(#100) Invalid JSON in the request body: it is not UTF-8.") from exc
    _check_depth(text, max_json_depth())
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except InvalidJson:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJson(
            f"(#100) Invalid JSON in the request body: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}."
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidJson("(#100) Invalid JSON in the request body.") from exc
    _check_strings(value)
    return value


class BoundedJsonParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"(#100) The request body is larger than {limit} bytes.")
        if not raw.strip():
            return {}
        return parse_json(raw)


class JsonRenderer(JSONRenderer):
    """JSON, always UTF-8-encodable: an unpaired surrogate in a value is escaped, never a
    crash while answering."""

    ensure_ascii = True


class JsonOnlyNegotiation(BaseContentNegotiation):
    """Every API answer is JSON, whatever `Accept` says (as the Graph API does); the body's
    content type still has to be JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        for parser in parsers:
            if content_type == parser.media_type:
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def safe_text(value: str, limit: int = 200) -> str:
    """A value fit to repeat in an error message: encodable, bounded."""
    text = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + "…"
