from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from e2ee.selectors import get_health
from frontend.access import console_view, live_page, staff
from parley.accounts.roles import Capability, Role, capabilities_of
from parley.accounts.selectors import count_staff_by_role, list_audit_entries, list_numbers
from parley.core.errors import ParleyError
from parley.core.http import client_address
from parley.core.stream.actions import Actor, do_discard_dead_letters, do_redrive_dead_letters
from parley.core.stream.selectors import get_stream_status


@console_view()
@live_page
def dashboard(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    context: dict[str, object] = {
        "capabilities": sorted(capabilities_of(user.role), key=lambda c: c.label),
    }
    if user.can(Capability.VIEW_STAFF):
        counts = count_staff_by_role(user.business)
        context["staff_counts"] = [(role, counts[role.value]) for role in Role]
    if user.can(Capability.VIEW_NUMBERS):
        context["numbers"] = list(list_numbers(user.business))
    if user.can(Capability.VIEW_AUDIT_LOG):
        # The live feed starts with the latest operations; new ones arrive over the socket.
        context["recent_audit"] = list(list_audit_entries(user.business)[:10])
    if user.can(Capability.VIEW_SECURITY_HEALTH):
        health = get_health(business_id=user.business_id).as_dict()
        for part, rate, verb in (
            ("key_agreements", "success_rate", "succeeded"),
            ("decryption", "failure_rate", "failed"),
        ):
            value = health[part][rate]
            health[part]["shown"] = "no data yet" if value is None else f"{value:.2%} {verb}"
        context["e2ee_health"] = health
        # The installation's event stream: its size and each consumer's lag and dead letters.
        context["stream"] = get_stream_status()
    return render(request, "frontend/dashboard.html", context)


def _settle_dead_letters(
    request: HttpRequest, action: Callable[..., int], outcome: str
) -> HttpResponse:
    consumer = request.POST.get("consumer", "")[:100]
    user = staff(request)
    by = Actor(label=user.email, business_id=user.business_id, ip_address=client_address(request))
    try:
        count = action(consumer, by=by)
    except ParleyError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{count} dead letter(s) of {consumer} {outcome}.")
    return redirect("/")


@console_view(Capability.VIEW_SECURITY_HEALTH)
@require_POST
def redrive_stream(request: HttpRequest) -> HttpResponse:
    return _settle_dead_letters(request, do_redrive_dead_letters, "queued for delivery")


@console_view(Capability.VIEW_SECURITY_HEALTH)
@require_POST
def discard_stream(request: HttpRequest) -> HttpResponse:
    return _settle_dead_letters(request, do_discard_dead_letters, "discarded")
