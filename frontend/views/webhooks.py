"""Webhooks in the console, for administrators and developers: the business's apps (status:
subscribed, the handshake's result, disabled by a 410, circuit open) and the create form; an
app's page (edit, subscribe with an optional override, unsubscribe, verify the callback,
rotate the secret, send a test event, delete, its recent deliveries, the private-address
warning); the delivery log (search by message id, filters, paging), a delivery's attempts
with replay, and bulk replay. A new app secret appears once, in the answer to the POST that
made it, on a page never cached."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from frontend.access import console_view, staff
from frontend.views.common import not_found, page_of, show_error
from parley.accounts.roles import Capability
from parley.core import clock
from parley.core.errors import ParleyError
from parley.core.http import client_address
from parley.webhooks.actions import apps as app_actions
from parley.webhooks.actions.apps import (
    MAX_CONCURRENCY,
    MAX_NAME,
    MAX_TIMEOUT,
    MAX_VERIFY_TOKEN,
    MIN_TIMEOUT,
)
from parley.webhooks.destinations import MAX_URL, private_address_warning
from parley.webhooks.models import FIELDS, WebhookApp, WebhookDelivery
from parley.webhooks.selectors import apps as app_selectors

FIELD_CHOICES = [(f, f) for f in FIELDS]
STATE_CHOICES = [("", "Any state"), *WebhookDelivery.STATES]
OVERLAP_CHOICES = [("0", "None: the old secret stops at once"), ("1", "1 hour"),
                   ("24", "24 hours"), ("72", "3 days"), ("168", "7 days")]  # fmt: skip
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
RECENT = 10


# -- forms -----------------------------------------------------------------------------------


class AppForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME)
    callback_url = forms.CharField(
        max_length=MAX_URL,
        label="Callback URL",
        help_text="http:// or https://. It must answer the verification handshake; redirects "
        "are not followed.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}),
    )
    verify_token = forms.CharField(
        max_length=MAX_VERIFY_TOKEN,
        strip=False,
        label="Verify token",
        help_text="Any string: Parley sends it as hub.verify_token and your receiver checks it.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    webhook_fields = forms.MultipleChoiceField(
        choices=FIELD_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=["messages"],
        label="Webhook fields",
    )
    max_concurrency = forms.IntegerField(
        min_value=1, max_value=MAX_CONCURRENCY, initial=20, label="Concurrent deliveries"
    )
    timeout_seconds = forms.FloatField(
        min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT, initial=10, label="Timeout (seconds)"
    )


class AppEditForm(AppForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.fields["verify_token"]
        token.required = False
        token.help_text = "Leave empty to keep the current token."


class SubscribeForm(forms.Form):
    override_callback_url = forms.CharField(
        max_length=MAX_URL,
        required=False,
        label="Override callback URL",
        help_text="Optional: this business's deliveries go here instead of the app's callback.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/other"}),
    )
    override_verify_token = forms.CharField(
        max_length=MAX_VERIFY_TOKEN,
        required=False,
        strip=False,
        label="Override verify token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class RotateForm(forms.Form):
    overlap_hours = forms.TypedChoiceField(
        choices=OVERLAP_CHOICES, coerce=int, initial="24", label="Old secret keeps signing for"
    )


class TestEventForm(forms.Form):
    field = forms.ChoiceField(choices=FIELD_CHOICES, label="Field")


class DeliveryFilterForm(forms.Form):
    message_id = forms.CharField(required=False, max_length=128, label="Message id (wamid)")
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES, label="State")
    app = forms.ChoiceField(required=False, label="App")

    def __init__(self, *args: Any, apps: list[WebhookApp], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app_field = self.fields["app"]
        assert isinstance(app_field, forms.ChoiceField)
        app_field.choices = [("", "All apps"), *((a.app_id, a.name) for a in apps)]
        self.fields["message_id"].widget.attrs.update(
            {"type": "search", "placeholder": "wamid.…", "data-testid": "delivery-search"}
        )


class BulkReplayForm(forms.Form):
    app = forms.ChoiceField(required=False, label="App")
    scope = forms.ChoiceField(
        choices=[("dead", "Dead letters only"), ("all", "Every delivery that is not pending")],
        initial="dead",
        label="Replay",
    )
    since = forms.DateTimeField(
        required=False,
        input_formats=TIME_FORMATS,
        label="Created from (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False,
        input_formats=TIME_FORMATS,
        label="Created before (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, apps: list[WebhookApp], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app_field = self.fields["app"]
        assert isinstance(app_field, forms.ChoiceField)
        app_field.choices = [("", "All apps"), *((a.app_id, a.name) for a in apps)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Choose an end after the start.")
        return data


# -- helpers ---------------------------------------------------------------------------------


def _show_error(form: forms.Form, exc: ParleyError) -> None:
    if exc.field == "fields":
        form.add_error("webhook_fields", exc.message)
    else:
        show_error(form, exc)


def _actor(request: HttpRequest) -> dict[str, Any]:
    user = staff(request)
    return {"actor": user, "actor_label": user.email, "ip_address": client_address(request)}


AppView = Callable[[HttpRequest, WebhookApp], HttpResponse]


def _with_app(view: AppView) -> Callable[[HttpRequest, str], HttpResponse]:
    """The view gets the staff member's business's app of the URL's id; any other id (an
    unknown one, another business's) is a 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, app_id: str) -> HttpResponse:
        app = app_selectors.get_app(staff(request).business_id, app_id)
        if app is None:
            return not_found(request, ParleyError("No such webhook app."))
        return view(request, app)

    return wrapper


def _status(app: WebhookApp, now: dt.datetime) -> dict[str, Any]:
    """What the console says about an app's state, in one place."""
    circuit = app.circuit_open_until
    if circuit is not None and circuit <= now:
        circuit = None
    return {
        "subscribed": app.subscribed,
        "verified": app.is_verified,
        "handshake_failed": bool(app.handshake_error),
        "disabled": app.disabled_at is not None,
        "circuit_open_until": circuit,
        "active": app.is_active,
    }


def _no_store(response: HttpResponse) -> HttpResponse:
    # A new secret exists only in the response to its POST: these pages are never cached.
    response["Cache-Control"] = "no-store"
    return response


def _edit_initial(app: WebhookApp) -> dict[str, Any]:
    return {
        "name": app.name,
        "callback_url": app.callback_url,
        "webhook_fields": list(app.fields),
        "max_concurrency": app.max_concurrency,
        "timeout_seconds": app.timeout_seconds,
    }


def _detail(
    request: HttpRequest,
    app: WebhookApp,
    *,
    edit_form: AppEditForm | None = None,
    subscribe_form: SubscribeForm | None = None,
    issued_secret: str = "",
    handshake: app_actions.HandshakeResult | None = None,
    status: int = 200,
) -> HttpResponse:
    from parley.webhooks.selectors.deliveries import delivery_counts, list_deliveries

    now = clock.now()
    warnings = []
    for url in dict.fromkeys([app.callback_url, app.target_url]):
        warning = private_address_warning(url)
        if warning:
            warnings.append(warning)
    recent = list(list_deliveries(app.business_id, app_id=app.app_id)[:RECENT])
    response = render(
        request,
        "frontend/webhook_detail.html",
        {
            "app": app,
            "status": _status(app, now),
            "edit_form": edit_form or AppEditForm(initial=_edit_initial(app)),
            "subscribe_form": subscribe_form or SubscribeForm(),
            "rotate_form": RotateForm(),
            "test_form": TestEventForm(),
            "secrets": list(app_selectors.live_secrets(app, now)),
            "issued_secret": issued_secret,
            "handshake": handshake,
            "warnings": warnings,
            "recent": recent,
            "counts": delivery_counts(app.business_id, app.app_id),
        },
        status=status,
    )
    return _no_store(response)


# -- the apps --------------------------------------------------------------------------------


@console_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET", "POST"])
def webhooks_page(request: HttpRequest) -> HttpResponse:
    from parley.webhooks.selectors.deliveries import delivery_counts

    user = staff(request)
    form = AppForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            app, secret = app_actions.do_create_app(
                user.business,
                data["name"],
                data["callback_url"],
                data["verify_token"],
                data["webhook_fields"],
                max_concurrency=data["max_concurrency"],
                timeout_seconds=data["timeout_seconds"],
                **_actor(request),
            )
        except ParleyError as exc:
            _show_error(form, exc)
        else:
            messages.success(
                request,
                f"Webhook app {app.name} created. Verify its callback and subscribe it to "
                "start receiving webhooks.",
            )
            return _detail(request, app, issued_secret=secret)
    now = clock.now()
    apps = list(app_selectors.list_apps(user.business_id))
    return _no_store(
        render(
            request,
            "frontend/webhooks.html",
            {
                "form": form,
                "apps": [(app, _status(app, now)) for app in apps],
                "counts": delivery_counts(user.business_id),
                "edge": f"/{_api_version()}/{user.business_id}/subscribed_apps",
            },
        )
    )


def _api_version() -> str:
    from django.conf import settings

    return str(settings.PARLEY["API_VERSION"])


@console_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET", "POST"])
@_with_app
def webhook_detail(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    if request.method == "GET":
        return _detail(request, app)
    form = AppEditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            app = app_actions.do_update_app(
                app,
                name=data["name"],
                callback_url=data["callback_url"],
                verify_token=data["verify_token"] or None,
                fields=data["webhook_fields"],
                max_concurrency=data["max_concurrency"],
                timeout_seconds=data["timeout_seconds"],
                **_actor(request),
            )
        except ParleyError as exc:
            _show_error(form, exc)
        else:
            note = "" if app.is_verified else " Verify the callback: it has not passed yet."
            messages.success(request, f"Settings saved.{note}")
            return redirect(f"/webhooks/{app.app_id}/")
    return _detail(request, app, edit_form=form)


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def subscribe(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    form = SubscribeForm(request.POST)
    if form.is_valid():
        try:
            app = app_actions.do_subscribe_app(
                app,
                form.cleaned_data["override_callback_url"].strip(),
                form.cleaned_data["override_verify_token"],
                **_actor(request),
            )
        except ParleyError as exc:
            field = {"override_callback_uri": "override_callback_url",
                     "verify_token": "override_verify_token"}.get(exc.field or "")  # fmt: skip
            if isinstance(exc, app_actions.CallbackVerificationFailed):
                field = None
            form.add_error(field, exc.message)
        else:
            messages.success(request, f"Subscribed: webhooks now go to {app.target_url}.")
            return redirect(f"/webhooks/{app.app_id}/")
    return _detail(request, app, subscribe_form=form)


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def unsubscribe(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    app_actions.do_unsubscribe_app(app, **_actor(request))
    messages.success(request, "Unsubscribed: nothing more is sent to this app.")
    return redirect(f"/webhooks/{app.app_id}/")


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def verify(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    result = app_actions.do_verify_callback(app, **_actor(request))
    app.refresh_from_db()
    return _detail(request, app, handshake=result)


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def rotate_secret(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the old secret keeps signing.")
        return redirect(f"/webhooks/{app.app_id}/")
    overlap = dt.timedelta(hours=form.cleaned_data["overlap_hours"])
    secret = app_actions.do_rotate_secret(app, overlap, **_actor(request))
    messages.success(request, "New app secret created: it signs every delivery from now on.")
    return _detail(request, app, issued_secret=secret)


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def send_test(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    from parley.webhooks.actions.deliveries import do_request_test_event

    form = TestEventForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a webhook field for the test event.")
        return redirect(f"/webhooks/{app.app_id}/")
    actor = _actor(request)
    try:
        do_request_test_event(
            app, form.cleaned_data["field"], actor_label=actor["actor_label"],
            ip_address=actor["ip_address"],
        )  # fmt: skip
    except ParleyError as exc:
        messages.error(request, exc.message)
    else:
        where = app.target_url if app.is_active else "the app (once it is subscribed and verified)"
        messages.success(
            request,
            f"Test event for {form.cleaned_data['field']} queued: it is delivered to {where} "
            "and appears in the log below.",
        )
    return redirect(f"/webhooks/{app.app_id}/")


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
@_with_app
def delete_app(request: HttpRequest, app: WebhookApp) -> HttpResponse:
    app_actions.do_delete_app(app, **_actor(request))
    messages.success(request, f"Deleted the webhook app {app.name}.")
    return redirect("/webhooks/")


# -- the delivery log ------------------------------------------------------------------------


@console_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET"])
def deliveries(request: HttpRequest) -> HttpResponse:
    from parley.webhooks.selectors.deliveries import delivery_counts, list_deliveries

    user = staff(request)
    apps = list(app_selectors.list_apps(user.business_id))
    filters = DeliveryFilterForm(request.GET or None, apps=apps)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    rows = list_deliveries(
        user.business_id,
        app_id=criteria.get("app", ""),
        message_id=criteria.get("message_id", "").strip(),
        state=criteria.get("state", ""),
    )
    return render(
        request,
        "frontend/webhook_deliveries.html",
        {
            "filters": filters,
            "filtered": any(criteria.values()),
            "page": page_of(request, rows),
            "counts": delivery_counts(user.business_id),
            "replay_form": BulkReplayForm(apps=apps),
        },
    )


@console_view(Capability.MANAGE_WEBHOOKS)
@require_http_methods(["GET"])
def delivery_detail(request: HttpRequest, delivery_id: str) -> HttpResponse:
    from parley.webhooks.selectors.deliveries import get_delivery, list_attempts

    delivery = get_delivery(staff(request).business_id, int(delivery_id))
    if delivery is None:
        return not_found(request, ParleyError("No such delivery."))
    return render(
        request,
        "frontend/webhook_delivery.html",
        {"delivery": delivery, "attempts": list_attempts(delivery)},
    )


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
def replay_delivery(request: HttpRequest, delivery_id: str) -> HttpResponse:
    from parley.webhooks.actions.deliveries import do_replay_delivery
    from parley.webhooks.selectors.deliveries import get_delivery

    delivery = get_delivery(staff(request).business_id, int(delivery_id))
    if delivery is None:
        return not_found(request, ParleyError("No such delivery."))
    actor = _actor(request)
    do_replay_delivery(delivery, actor_label=actor["actor_label"], ip_address=actor["ip_address"])
    messages.success(request, "Replaying: a new round of attempts starts now.")
    return redirect(f"/webhooks/deliveries/{delivery.pk}/")


@console_view(Capability.MANAGE_WEBHOOKS)
@require_POST
def replay_deliveries(request: HttpRequest) -> HttpResponse:
    from parley.webhooks.actions.deliveries import do_replay_deliveries

    user = staff(request)
    apps = list(app_selectors.list_apps(user.business_id))
    form = BulkReplayForm(request.POST, apps=apps)
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"Nothing replayed: {errors}")
        return redirect("/webhooks/deliveries/")
    data = form.cleaned_data
    actor = _actor(request)
    try:
        count = do_replay_deliveries(
            user.business_id,
            app_id=data["app"],
            since=data["since"],
            until=data["until"],
            dead_only=data["scope"] == "dead",
            actor_label=actor["actor_label"],
            ip_address=actor["ip_address"],
        )
    except ParleyError as exc:
        messages.error(request, f"Nothing replayed: {exc.message}")
    else:
        noun = "delivery" if count == 1 else "deliveries"
        messages.success(request, f"Replaying {count} {noun}.")
    return redirect("/webhooks/deliveries/")
