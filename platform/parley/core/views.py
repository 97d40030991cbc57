"""Process-level endpoints: the health check and the error pages."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from parley.core.health import run_checks, stream_report

# Every REST surface answers errors in Meta's envelope, never an HTML page.
API_PATH = re.compile(r"^/(v[0-9]+\.[0-9]+|parley/v[0-9]+|relay/v[0-9]+|api)(/|$)")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    failing = [c.name for c in checks if not c.ok]
    body = {
        "status": "ok" if not failing else "unavailable",
        "failing": failing,
        "checks": {
            c.name: {"ok": c.ok, "detail": c.detail, "latency_ms": c.latency_ms} for c in checks
        },
        "stream": stream_report(),
    }
    return JsonResponse(body, status=200 if not failing else 503)


def _api_client(request: HttpRequest) -> bool:
    """An API path, or a client that sends API credentials: it reads JSON, not a page."""
    return bool(API_PATH.match(request.path) or request.META.get("HTTP_AUTHORIZATION"))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api_client(request):
        from parley.api.errors import api_not_found

        return api_not_found(request, exception)
    return render(request, "frontend/error.html", {"status": 404, "title": "Not found"}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api_client(request):
        from parley.api.errors import api_server_error

        return api_server_error(request)
    return render(
        request, "frontend/error.html", {"status": 500, "title": "Something went wrong"}, status=500
    )
