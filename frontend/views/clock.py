"""The simulation clock, for administrators and developers: its state, and moving it
forward (presets or a free duration), to an instant, or back to real time."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from frontend.access import console_view, staff
from frontend.forms import ClockAdvanceForm, ClockSetForm
from parley.accounts.roles import Capability
from parley.core.clock_actions import (
    ClockMove,
    do_advance_clock,
    do_reset_clock,
    do_set_clock,
    parse_duration,
)
from parley.core.clock_selectors import describe_offset, get_clock
from parley.core.errors import ParleyError
from parley.core.http import client_address

PRESETS = ["1h", "25h", "3d", "31d"]


def _moved(request: HttpRequest, move: ClockMove) -> HttpResponse:
    messages.success(
        request,
        f"Clock {move.action}: now {move.after:%Y-%m-%d %H:%M} UTC."
        + (" Jobs that became due are running." if move.catch_up == "queue" else ""),
    )
    return redirect("/clock/")


@console_view(Capability.MANAGE_CLOCK)
@require_http_methods(["GET", "POST"])
def clock_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    who: dict[str, Any] = {"actor": user, "ip_address": client_address(request)}
    advance, set_ = ClockAdvanceForm(prefix="advance"), ClockSetForm(prefix="set")
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "preset" and request.POST.get("duration") in PRESETS:
                return _moved(
                    request, do_advance_clock(parse_duration(request.POST["duration"]), **who)
                )
            if action == "advance":
                advance = ClockAdvanceForm(request.POST, prefix="advance")
                if advance.is_valid():
                    return _moved(
                        request, do_advance_clock(advance.cleaned_data["duration"], **who)
                    )
            elif action == "set":
                set_ = ClockSetForm(request.POST, prefix="set")
                if set_.is_valid():
                    return _moved(request, do_set_clock(set_.cleaned_data["time"], **who))
            elif action == "reset":
                return _moved(request, do_reset_clock(**who))
            else:
                messages.error(request, "Choose how to move the clock.")
        except ParleyError as exc:
            target = set_ if action == "set" else advance
            target.add_error(None, exc.message)
    view = get_clock()
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "frontend/clock.html",
        {
            "clock": view,
            "offset": describe_offset(view.offset),
            "presets": PRESETS,
            "advance_form": advance,
            "set_form": set_,
        },
        status=status,
    )
