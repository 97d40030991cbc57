"""A session only counts as logged in once both factors passed; until then every console page
but the login steps redirects to them."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

# Set in the session by the login views when the second factor (or a trusted device) passed.
VERIFIED_KEY = "parley_2fa_verified"
OPEN_PREFIXES = (
    "/login",
    "/logout",
    "/static/",
    "/favicon.ico",
    "/healthz",
    "/v",
    "/api/",
    "/parley/",
    "/relay/",
)


class TwoFactorRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.session.get(VERIFIED_KEY)
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            # A half-finished login must not reach anything: drop it and start again.
            logout(request)
            return redirect(f"/login/?next={request.path}")
        return self.get_response(request)
