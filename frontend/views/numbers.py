"""Business numbers: the list with the add form, and a number's registration flow
(request code → verify → register with a PIN → official verification) with the simulated
SMS inbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from frontend.access import console_view, staff
from frontend.forms import (
    BusinessProfileForm,
    NumberAddForm,
    RegisterForm,
    RequestCodeForm,
    VerifyCodeForm,
)
from frontend.selectors import code_awaiting_delivery
from frontend.views.common import forbidden, not_found, show_error
from parley.accounts.actions.numbers import (
    display_number,
    do_add_number,
    do_register_number,
    do_request_code,
    do_request_official_verification,
    do_set_messaging_limit,
    do_set_quality_rating,
    do_set_throughput,
    do_verify_code,
)
from parley.accounts.actions.profiles import do_update_business_profile
from parley.accounts.models import Business, BusinessProfile, PhoneNumber
from parley.accounts.roles import Capability
from parley.accounts.selectors import (
    get_business_profile,
    get_number,
    get_simulated_inbox,
    list_numbers,
    read_profile_picture,
)
from parley.core import clock
from parley.core.errors import NotFound, ParleyError
from parley.core.http import client_address
from parley.messaging.actions import LIMIT_PERIOD
from parley.messaging.limits import throughput
from parley.messaging.selectors import count_reached_customers
from parley.messaging.tiers import limit_of


@console_view(Capability.VIEW_NUMBERS)
@require_http_methods(["GET", "POST"])
def numbers(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    can_manage = user.can(Capability.MANAGE_NUMBERS)
    form = NumberAddForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            return forbidden(request)
        if form.is_valid():
            try:
                number = do_add_number(
                    user, **form.cleaned_data, ip_address=client_address(request)
                )
            except ParleyError as exc:
                show_error(form, exc)
            else:
                messages.success(
                    request, f"Added {number.e164}. Next: request a registration code."
                )
                return redirect(f"/numbers/{number.pk}/")
    rows = [{"number": n, "display": display_number(n.e164)} for n in list_numbers(user.business)]
    return render(
        request,
        "frontend/numbers.html",
        {"rows": rows, "form": form if can_manage else None, "can_manage": can_manage},
    )


def _detail(
    request: HttpRequest,
    number: PhoneNumber,
    *,
    bound: dict[str, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    user = staff(request)
    can_manage = user.can(Capability.MANAGE_NUMBERS)
    profile = get_business_profile(number)
    step_forms: dict[str, Any] = {
        "request_form": RequestCodeForm(),
        "verify_form": VerifyCodeForm(),
        "register_form": RegisterForm(),
        "profile_form": BusinessProfileForm(initial=_profile_initial(profile)),
    }
    step_forms |= bound or {}
    code_verified = number.code_verification_status == PhoneNumber.CodeStatus.VERIFIED
    connected = number.status == PhoneNumber.Status.CONNECTED
    # "Waiting" first, then the inbox: a delivery landing between the two reads then shows
    # the code (and a stale "waiting" the next refresh clears), never neither.
    waiting = code_awaiting_delivery(number)
    inbox = get_simulated_inbox(number)
    context: dict[str, Any] = {
        "number": number,
        "display": display_number(number.e164),
        "can_manage": can_manage,
        "inbox": inbox,
        "waiting": waiting,
        "code_sent": waiting or any(m["valid"] for m in inbox),
        "code_verified": code_verified,
        "connected": connected,
        "error": error,
        "throughput": throughput(number),
        "upgrading": bool(
            number.throughput_upgrading_until and clock.now() < number.throughput_upgrading_until
        ),
        "pair_seconds": f"{float(settings.PARLEY['PAIR_RATE_SECONDS']):g}",
        "pair_burst": settings.PARLEY["PAIR_RATE_BURST"],
        "limit_tier": number.business.messaging_limit_tier,
        "limit_size": limit_of(
            number.business.messaging_limit_tier, settings.PARLEY["MESSAGING_LIMITS"]
        ),
        "limit_used": count_reached_customers(number.business_id, clock.now() - LIMIT_PERIOD),
        "tiers": Business.MessagingLimit.values,
        "ratings": PhoneNumber.Quality.values,
        "profile": profile,
        **(step_forms if can_manage else {}),
    }
    return render(request, "frontend/number_detail.html", context)


@console_view(Capability.VIEW_NUMBERS)
@require_http_methods(["GET"])
def number_detail(request: HttpRequest, number_id: str) -> HttpResponse:
    try:
        number = get_number(staff(request).business, number_id)
    except NotFound as exc:
        return not_found(request, exc)
    if request.GET.get("part") == "inbox":
        # The inbox panel alone, for the page's "waiting for delivery…" refresh.
        waiting = code_awaiting_delivery(number)  # before the inbox, as in _detail
        return render(
            request,
            "frontend/_inbox.html",
            {"number": number, "waiting": waiting, "inbox": get_simulated_inbox(number)},
        )
    return _detail(request, number)


def _profile_initial(profile: BusinessProfile) -> dict[str, Any]:
    return {
        "about": profile.about,
        "address": profile.address,
        "description": profile.description,
        "email": profile.email,
        "vertical": profile.vertical,
        "websites": "\n".join(profile.websites or []),
    }


Step = Callable[[HttpRequest, PhoneNumber, dict[str, Any]], str]


def _step(
    request: HttpRequest, number_id: str, name: str, form: forms.Form, step: Step
) -> HttpResponse:
    """Run one registration step: validate its form, call its action, show the result."""
    user = staff(request)
    try:
        number = get_number(user.business, number_id)
    except NotFound as exc:
        return not_found(request, exc)
    if form.is_valid():
        try:
            done = step(request, number, form.cleaned_data)
        except NotFound as exc:
            return not_found(request, exc)
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(f"/numbers/{number.pk}/")
    number.refresh_from_db()
    return _detail(request, number, bound={name: form})


def _request_code(request: HttpRequest, number: PhoneNumber, data: dict[str, Any]) -> str:
    do_request_code(
        number.business,
        number.pk,
        method=data["code_method"],
        actor_label=staff(request).email,
        ip_address=client_address(request),
    )
    return f"Code requested by {data['code_method']}. It appears in the simulated inbox."


def _verify_code(request: HttpRequest, number: PhoneNumber, data: dict[str, Any]) -> str:
    do_verify_code(
        number.business,
        number.pk,
        code=data["code"].strip(),
        actor_label=staff(request).email,
        ip_address=client_address(request),
    )
    return "Code verified. Next: register the number with a two-step verification PIN."


def _register(request: HttpRequest, number: PhoneNumber, data: dict[str, Any]) -> str:
    do_register_number(
        number.business,
        number.pk,
        pin=data["pin"],
        actor_label=staff(request).email,
        ip_address=client_address(request),
    )
    return "Number registered: it is connected for messaging."


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def request_code(request: HttpRequest, number_id: str) -> HttpResponse:
    return _step(request, number_id, "request_form", RequestCodeForm(request.POST), _request_code)


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def verify_code(request: HttpRequest, number_id: str) -> HttpResponse:
    return _step(request, number_id, "verify_form", VerifyCodeForm(request.POST), _verify_code)


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def register(request: HttpRequest, number_id: str) -> HttpResponse:
    return _step(request, number_id, "register_form", RegisterForm(request.POST), _register)


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def request_official(request: HttpRequest, number_id: str) -> HttpResponse:
    user = staff(request)
    try:
        number = get_number(user.business, number_id)
        do_request_official_verification(user, number.pk, ip_address=client_address(request))
    except NotFound as exc:
        return not_found(request, exc)
    except ParleyError as exc:
        return _detail(request, number, error=exc.message)
    messages.success(request, "Official verification requested: the platform will review it.")
    return redirect(f"/numbers/{number.pk}/")


def _change_number(
    request: HttpRequest, number_id: str, change: Callable[[PhoneNumber], str]
) -> HttpResponse:
    """Apply one administrator's change to a number (or its business) from the number's
    page: back to the page with what changed, or with the action's error."""
    user = staff(request)
    try:
        number = get_number(user.business, number_id)
        done = change(number)
    except NotFound as exc:
        return not_found(request, exc)
    except ParleyError as exc:
        return _detail(request, number, error=exc.message)
    messages.success(request, done)
    return redirect(f"/numbers/{number.pk}/")


def _audit_fields(request: HttpRequest) -> dict[str, Any]:
    return {"actor_label": staff(request).email, "ip_address": client_address(request)}


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def set_throughput(request: HttpRequest, number_id: str) -> HttpResponse:
    def change(number: PhoneNumber) -> str:
        level = request.POST.get("level", "")
        done = do_set_throughput(number.business, number.pk, level=level, **_audit_fields(request))
        return f"Throughput level: {done.throughput_level}."

    return _change_number(request, number_id, change)


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def set_quality(request: HttpRequest, number_id: str) -> HttpResponse:
    def change(number: PhoneNumber) -> str:
        rating = request.POST.get("rating", "")
        done = do_set_quality_rating(number.business, number.pk, rating=rating,
                                     **_audit_fields(request))  # fmt: skip
        return f"Quality rating: {done.quality_rating}."

    return _change_number(request, number_id, change)


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def set_messaging_limit(request: HttpRequest, number_id: str) -> HttpResponse:
    """The business's messaging limit tier, from one of its numbers' pages."""

    def change(number: PhoneNumber) -> str:
        tier = request.POST.get("tier", "")
        business = do_set_messaging_limit(number.business, tier=tier, **_audit_fields(request))
        return f"Messaging limit: {business.messaging_limit_tier}."

    return _change_number(request, number_id, change)


def _update_profile(request: HttpRequest, number: PhoneNumber, data: dict[str, Any]) -> str:
    do_update_business_profile(
        number.business,
        number.pk,
        data,
        actor_label=staff(request).email,
        ip_address=client_address(request),
    )
    return "Business profile saved."


@console_view(Capability.MANAGE_NUMBERS)
@require_POST
def business_profile(request: HttpRequest, number_id: str) -> HttpResponse:
    form = BusinessProfileForm(request.POST)
    return _step(
        request,
        number_id,
        "profile_form",
        form,
        lambda req, number, data: _update_profile(req, number, form.changes()),
    )


@console_view(Capability.VIEW_NUMBERS)
@require_http_methods(["GET"])
def profile_picture(request: HttpRequest, number_id: str) -> HttpResponse:
    """The number's profile picture, for the business profile card."""
    try:
        number = get_number(staff(request).business, number_id)
    except NotFound as exc:
        return not_found(request, exc)
    picture = read_profile_picture(get_business_profile(number))
    if picture is None:
        return not_found(request, NotFound("This number has no profile picture."))
    content, mime_type = picture
    response = HttpResponse(content, content_type=mime_type)
    response["Cache-Control"] = "private, max-age=300"
    return response
