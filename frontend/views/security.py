"""The signed-in user's own security: two-factor status and trusted browsers."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from frontend.access import console_view, staff
from frontend.views.common import not_found
from parley.accounts.actions.login import do_revoke_device
from parley.accounts.selectors import list_devices
from parley.core.crypto import token_digest
from parley.core.http import client_address

_BROWSERS = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("HeadlessChrome/", "Headless Chrome"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari")]  # fmt: skip
_SYSTEMS = [("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("Linux", "Linux")]  # fmt: skip


def describe_browser(user_agent: str) -> str:
    """ "Chrome on Linux" from a User-Agent header (the full header stays in a tooltip)."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), "")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def _this_device_hash(request: HttpRequest) -> str:
    token = request.COOKIES.get(settings.PARLEY["TRUSTED_DEVICE_COOKIE"], "")
    return token_digest(token) if token else ""


@console_view()
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    current = _this_device_hash(request)
    devices = [
        {"device": d, "current": d.token_hash == current, "name": describe_browser(d.label)}
        for d in list_devices(user)
    ]
    return render(request, "frontend/security.html", {"devices": devices})


@console_view()
@require_POST
def forget_device(request: HttpRequest, device_id: str) -> HttpResponse:
    user = staff(request)
    device = list_devices(user).filter(pk=int(device_id)).first()
    if device is None:
        return not_found(request)
    do_revoke_device(user, device.pk, ip_address=client_address(request))
    messages.success(request, "Device forgotten: it will be asked for a code at the next login.")
    response = redirect("/security/")
    if device.token_hash == _this_device_hash(request):
        response.delete_cookie(settings.PARLEY["TRUSTED_DEVICE_COOKIE"], samesite="Lax")
    return response
