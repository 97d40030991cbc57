"""Login in two steps: password, then a TOTP code (or a trusted device). Enrolment happens
at the first login of an account, with a seed of its own for each login attempt. No login
page is ever cached: the enrolment page shows a secret."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from frontend.forms import CodeForm, LoginForm
from parley.accounts.actions.login import (
    do_begin_enrolment,
    do_check_password,
    do_verify_second_factor,
    get_enrolment_secret,
    provisioning_uri,
)
from parley.accounts.middleware import VERIFIED_KEY
from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.errors import AccountLocked, ParleyError, RateLimited
from parley.core.http import client_address

PENDING_KEY = "parley_pending_2fa"
PENDING_SECONDS = 300


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    # Only a path on this site: anything else (another host, a bare word that redirect()
    # would take for a view name, control characters) goes home.
    if (
        not target.startswith("/")
        or len(target) > 2000
        or not target.isprintable()
        or not url_has_allowed_host_and_scheme(target, {request.get_host()})
    ):
        return "/"
    return target


def _pending_user(request: HttpRequest) -> StaffUser | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if clock.now().timestamp() - float(pending["at"]) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user_id = pending.get("user")
    if not isinstance(user_id, int):
        return None
    return StaffUser.objects.filter(pk=user_id, is_active=True).first()


def _finish(request: HttpRequest, user: StaffUser) -> None:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[VERIFIED_KEY] = True


def _status_for(exc: ParleyError) -> int:
    return 429 if isinstance(exc, RateLimited) else 423 if isinstance(exc, AccountLocked) else 200


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.session.get(VERIFIED_KEY):
        return redirect(_next(request))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        cookie = settings.PARLEY["TRUSTED_DEVICE_COOKIE"]
        try:
            result = do_check_password(
                form.cleaned_data["email"],
                form.cleaned_data["password"],
                ip_address=client_address(request),
                device_token=request.COOKIES.get(cookie),
            )
        except ParleyError as exc:
            form.add_error(None, exc.message)
            status = _status_for(exc)
        else:
            if result.device_trusted:
                _finish(request, result.user)
                return redirect(_next(request))
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"user": result.user.pk, "at": clock.now().timestamp()}
            step = "verify" if result.user.two_factor_enrolled else "enrol"
            return redirect(f"/login/{step}/?next={_next(request)}")
    return render(
        request, "frontend/login.html", {"form": form, "next": _next(request)}, status=status
    )


def _enrolment(request: HttpRequest, user: StaffUser) -> tuple[str, str]:
    """This session's enrolment attempt (attempt id, seed); a fresh one when it has none."""
    pending = request.session[PENDING_KEY]
    attempt = pending.get("enrolment")
    secret = get_enrolment_secret(user, attempt if isinstance(attempt, str) else None)
    if secret is None:
        begun = do_begin_enrolment(user)
        attempt, secret = begun.attempt, begun.secret
        request.session[PENDING_KEY] = {**pending, "enrolment": attempt}
    return attempt, secret


def _second_factor(request: HttpRequest, template: str, enrolling: bool) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("/login/")
    if enrolling and user.two_factor_enrolled:
        return redirect(f"/login/verify/?next={_next(request)}")
    if not enrolling and not user.two_factor_enrolled:
        return redirect(f"/login/enrol/?next={_next(request)}")
    attempt, secret = _enrolment(request, user) if enrolling else ("", "")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            token = do_verify_second_factor(
                user,
                form.cleaned_data["code"],
                ip_address=client_address(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
                enrolment_attempt=attempt or None,
            )
        except ParleyError as exc:
            form.add_error("code", exc.message)
            status = _status_for(exc)
            if isinstance(exc, AccountLocked):
                request.session.pop(PENDING_KEY, None)
        else:
            _finish(request, user)
            response = redirect(_next(request))
            response.set_cookie(
                settings.PARLEY["TRUSTED_DEVICE_COOKIE"],
                token,
                max_age=settings.PARLEY["TRUSTED_DEVICE_DAYS"] * 86400,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE or request.is_secure(),
            )
            return response
    context: dict[str, object] = {"form": form, "next": _next(request), "email": user.email}
    if enrolling:
        uri = provisioning_uri(user, secret)
        buffer = io.BytesIO()
        segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
        context |= {"secret": secret, "qr_svg": buffer.getvalue().decode(), "uri": uri}
    return render(request, template, context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    return _second_factor(request, "frontend/enrol.html", enrolling=True)


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    return _second_factor(request, "frontend/verify.html", enrolling=False)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("/login/")
