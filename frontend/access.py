"""Console access: every page names the capability it needs; the matrix in
parley.accounts.roles decides."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from parley.accounts.middleware import VERIFIED_KEY
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.core.stream import log as stream_log

# Views return a page, a redirect or a streamed file.
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def staff(request: HttpRequest) -> StaffUser:
    return cast(StaffUser, request.user)


def console_view(*capabilities: Capability) -> Callable[[View], View]:
    """Require a verified staff session holding every capability named."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated or not request.session.get(VERIFIED_KEY):
                return redirect(f"/login/?next={request.path}")
            if not all(staff(request).can(c) for c in capabilities):
                return render(
                    request,
                    "frontend/error.html",
                    {
                        "status": 403,
                        "title": "Not allowed",
                        "detail": "Your role does not give access to this page.",
                    },
                    status=403,
                )
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorate


def follow_stream(request: HttpRequest) -> None:
    """Note the event stream's position for the page about to be read and rendered: the
    page's socket starts there (`data-stream-after`) and first replays what committed while
    the page was rendered and loading, so nothing falls between the page and its live feed."""
    request.stream_after = stream_log.safe_bound(0)  # type: ignore[attr-defined]


def live_page(view: View) -> View:
    """A page that follows the event stream (`follow_stream` before the view reads
    anything). Requests for a fragment of the page (`?part=`) follow no stream."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if "part" not in request.GET:
            follow_stream(request)
        return view(request, *args, **kwargs)

    return cast(View, wrapper)
