"""Webhooks over the API: Meta's `subscribed_apps` edge and Parley's own endpoints for the
apps, their secrets, the handshake, test events and the delivery log.

    GET    /{version}/{waba_id}/subscribed_apps              the subscribed apps (Meta's shape)
    POST   /{version}/{waba_id}/subscribed_apps              subscribe (handshake first; 2200)
    DELETE /{version}/{waba_id}/subscribed_apps              unsubscribe
    GET    /parley/v1/webhooks/apps                          list
    POST   /parley/v1/webhooks/apps                          create: the app secret, shown once
    GET    /parley/v1/webhooks/apps/{app_id}                 one app
    PATCH  /parley/v1/webhooks/apps/{app_id}                 edit
    DELETE /parley/v1/webhooks/apps/{app_id}                 delete
    POST   /parley/v1/webhooks/apps/{app_id}/verify          run the handshake, record it
    POST   /parley/v1/webhooks/apps/{app_id}/secret          rotate: the new secret, shown once
    POST   /parley/v1/webhooks/apps/{app_id}/test            send a sample change of a field
    GET    /parley/v1/webhooks/deliveries                    the delivery log, newest first
    GET    /parley/v1/webhooks/deliveries/{delivery_id}      one delivery, its body and attempts
    POST   /parley/v1/webhooks/deliveries/{delivery_id}/replay
    POST   /parley/v1/webhooks/deliveries/replay             dead letters (or all) in bulk

`subscribed_apps` acts on the app named by Parley's `app_id` parameter, else on the
business's oldest app (a Graph API token belongs to one app; Parley's tokens belong to the
business). Every endpoint needs the token permission "Manage webhooks". Secrets and verify
tokens are never answered, except a secret in the answer that creates it. Thin: parse,
authorise, call one action or selector, render."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import ApiClient, BearerTokenAuthentication
from parley.api.base import (
    ApiView,
    MetaCursorPagination,
    query_text,
    query_time,
    safe_text,
)
from parley.api.permissions import business_of, capability
from parley.api.schema import ErrorEnvelope
from parley.api.serializers import SuccessOut
from parley.api.views import CloudApiView, _id_parameter, _version_parameter
from parley.core.errors import InvalidParameter, NotFound
from parley.core.http import client_address
from parley.webhooks.actions import apps as app_actions
from parley.webhooks.actions.apps import MAX_CONCURRENCY, MAX_OVERLAP, MAX_TIMEOUT, MIN_TIMEOUT
from parley.webhooks.destinations import URL_PATTERN
from parley.webhooks.models import FIELDS, WebhookApp, WebhookAttempt, WebhookDelivery
from parley.webhooks.selectors import apps as app_selectors

# What a request may say, exactly as the actions accept it (so the schema is the contract).
NAME_PATTERN = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,98}[^\s\x00-\x1f\x7f])?$"
TOKEN_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
APP_ID_PATTERN = r"^[0-9]{1,20}$"
STATES = [state for state, _ in WebhookDelivery.STATES]
# A Unix timestamp in seconds, as the Graph API's since/until (up to the year 5138).
TIMESTAMP_MAX = 99_999_999_999


class Text(serializers.RegexField):
    """A string matching a pattern; a number or a boolean is refused, not turned into text."""

    default_error_messages = {"not_a_string": "must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class _Actor:
    """Who acts, for the actions' audit entries."""

    def __init__(self, request: Request) -> None:
        user = request.user
        self.user = user if isinstance(user, StaffUser) else None
        self.label = user.label if isinstance(user, ApiClient) else ""
        if self.user is not None:
            self.label = self.user.email
        self.ip_address = client_address(request._request)

    def kwargs(self) -> dict[str, Any]:
        return {"actor": self.user, "actor_label": self.label, "ip_address": self.ip_address}


# -- shapes ----------------------------------------------------------------------------------


class WhatsAppBusinessApiDataOut(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The app's id.")
    name = serializers.CharField(required=False, help_text="Unless `fields` leaves it out.")
    link = serializers.CharField(
        required=False,
        help_text="The app's console page (unless `fields` leaves it out).",
    )


class SubscribedAppOut(serializers.Serializer[Any]):
    whatsapp_business_api_data = WhatsAppBusinessApiDataOut()
    override_callback_uri = serializers.CharField(
        required=False, help_text="Only when the subscription overrides the app's callback."
    )


class SubscribedAppsOut(serializers.Serializer[Any]):
    data = SubscribedAppOut(many=True)  # type: ignore[assignment]


class SubscriptionIn(serializers.Serializer[Any]):
    override_callback_uri = Text(
        URL_PATTERN,
        max_length=2000,
        required=False,
        help_text="Deliveries for this business go here instead of the app's callback; the "
        "handshake runs against it with `verify_token`.",
    )
    verify_token = Text(
        TOKEN_PATTERN,
        max_length=200,
        required=False,
        trim_whitespace=False,
        help_text="The override callback's verify token (required with it).",
    )
    app_id = Text(
        APP_ID_PATTERN,
        required=False,
        help_text="Parley: which of the business's apps (default: the oldest).",
    )


class SecretOut(serializers.Serializer[Any]):
    hint = serializers.CharField(help_text="The secret's last 4 characters.")
    created_at = serializers.DateTimeField()
    retires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it stops signing (a rotation's overlap)."
    )


class AppOut(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The app's Graph id.")
    name = serializers.CharField()
    callback_url = serializers.CharField()
    fields = serializers.ListField(child=serializers.ChoiceField(choices=list(FIELDS)))  # type: ignore[assignment]
    subscribed = serializers.BooleanField(help_text="Subscribed to the business (subscribed_apps).")
    override_callback_uri = serializers.CharField(allow_null=True)
    target_url = serializers.CharField(
        help_text="Where deliveries go: the override, else the callback."
    )
    verified = serializers.BooleanField(help_text="The handshake passed against the target URL.")
    verified_url = serializers.CharField(allow_blank=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    handshake_error = serializers.CharField(
        allow_blank=True, help_text="Why the last handshake failed ('' after a success)."
    )
    active = serializers.BooleanField(help_text="Subscribed, verified and not disabled.")
    disabled_at = serializers.DateTimeField(allow_null=True, help_text="Set by a 410 Gone.")
    disabled_reason = serializers.CharField(allow_blank=True)
    consecutive_failures = serializers.IntegerField()
    circuit_open_until = serializers.DateTimeField(allow_null=True)
    max_concurrency = serializers.IntegerField()
    timeout_seconds = serializers.FloatField()
    secrets = SecretOut(many=True, help_text="Hints of the secrets that sign, newest first.")
    created_at = serializers.DateTimeField()


class AppWithSecretOut(AppOut):
    secret = serializers.CharField(help_text="The app secret: shown only in this answer.")


class AppCreateIn(serializers.Serializer[Any]):
    name = Text(NAME_PATTERN, max_length=100)
    callback_url = Text(
        URL_PATTERN, max_length=2000, help_text="http:// or https://; redirects are not followed."
    )
    verify_token = Text(TOKEN_PATTERN, max_length=200, trim_whitespace=False)
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.ChoiceField(choices=list(FIELDS)),
        min_length=1,
        max_length=20,
        required=False,
        help_text="Webhook fields to receive (default: messages).",
    )
    max_concurrency = serializers.IntegerField(
        min_value=1, max_value=MAX_CONCURRENCY, required=False
    )
    timeout_seconds = serializers.FloatField(
        min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT, required=False
    )


class AppUpdateIn(serializers.Serializer[Any]):
    name = Text(NAME_PATTERN, max_length=100, required=False)
    callback_url = Text(URL_PATTERN, max_length=2000, required=False)
    verify_token = Text(TOKEN_PATTERN, max_length=200, trim_whitespace=False, required=False)
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.ChoiceField(choices=list(FIELDS)),
        min_length=1,
        max_length=20,
        required=False,
    )
    max_concurrency = serializers.IntegerField(
        min_value=1, max_value=MAX_CONCURRENCY, required=False
    )
    timeout_seconds = serializers.FloatField(
        min_value=MIN_TIMEOUT, max_value=MAX_TIMEOUT, required=False
    )


class RotateIn(serializers.Serializer[Any]):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_OVERLAP.total_seconds()),
        required=False,
        help_text="How long (simulated) the previous secret keeps signing; default 86400.",
    )


class HandshakeOut(serializers.Serializer[Any]):
    verified = serializers.BooleanField()
    url = serializers.CharField(help_text="The URL called (without the hub.* parameters).")
    status = serializers.IntegerField(allow_null=True, help_text="The receiver's HTTP status.")
    error = serializers.CharField(allow_blank=True)
    latency_ms = serializers.FloatField(allow_null=True)
    app = AppOut()


class TestIn(serializers.Serializer[Any]):
    field = serializers.ChoiceField(choices=list(FIELDS))


class TestOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()
    stream_id = serializers.CharField(help_text="The test event's position in the stream.")


class DeliveryOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    webhook_id = serializers.CharField(help_text="Same across retries and replays.")
    app_id = serializers.CharField()
    field = serializers.CharField()
    event = serializers.CharField()
    message_id = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=STATES)
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_status = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class AttemptOut(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    url = serializers.CharField()
    started_at = serializers.DateTimeField()
    latency_ms = serializers.FloatField(allow_null=True)
    request_headers = serializers.DictField(child=serializers.CharField())
    response_status = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)


class DeliveryDetailOut(DeliveryOut):
    body = serializers.CharField(help_text="The POST body, exactly as signed.")
    attempt_log = AttemptOut(many=True)


class ReplayIn(serializers.Serializer[Any]):
    app_id = Text(APP_ID_PATTERN, required=False)
    since = serializers.IntegerField(
        min_value=0, max_value=TIMESTAMP_MAX, required=False, help_text="Unix time, inclusive."
    )
    until = serializers.IntegerField(
        min_value=0, max_value=TIMESTAMP_MAX, required=False, help_text="Unix time, exclusive."
    )
    state = serializers.ChoiceField(
        choices=["dead", "all"],
        required=False,
        default="dead",
        help_text="dead: the dead letters; all: every delivery that is not pending.",
    )


class ReplayOut(serializers.Serializer[Any]):
    replayed = serializers.IntegerField()


# -- rendering -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def app_node(app: WebhookApp, *, now: dt.datetime | None = None) -> dict[str, Any]:
    from parley.core import clock

    moment = now or clock.now()
    return {
        "id": app.app_id,
        "name": app.name,
        "callback_url": app.callback_url,
        "fields": list(app.fields),
        "subscribed": app.subscribed,
        "override_callback_uri": app.override_callback_url or None,
        "target_url": app.target_url,
        "verified": app.is_verified,
        "verified_url": app.verified_url,
        "verified_at": _iso(app.verified_at),
        "handshake_error": app.handshake_error,
        "active": app.is_active,
        "disabled_at": _iso(app.disabled_at),
        "disabled_reason": app.disabled_reason,
        "consecutive_failures": app.consecutive_failures,
        "circuit_open_until": _iso(app.circuit_open_until),
        "max_concurrency": app.max_concurrency,
        "timeout_seconds": app.timeout_seconds,
        "secrets": [
            {
                "hint": row.hint,
                "created_at": _iso(row.created_at),
                "retires_at": _iso(row.retires_at),
            }
            for row in app_selectors.live_secrets(app, moment)
        ],
        "created_at": _iso(app.created_at),
    }


def delivery_node(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "webhook_id": delivery.webhook_id,
        "app_id": delivery.app.app_id,
        "field": delivery.field,
        "event": delivery.event,
        "message_id": delivery.message_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "created_at": _iso(delivery.created_at),
        "next_attempt_at": (
            _iso(delivery.next_attempt_at) if delivery.state == WebhookDelivery.PENDING else None
        ),
        "delivered_at": _iso(delivery.delivered_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
    }


def attempt_node(attempt: WebhookAttempt) -> dict[str, Any]:
    headers = attempt.request_headers if isinstance(attempt.request_headers, dict) else {}
    return {
        "number": attempt.number,
        "url": attempt.url,
        "started_at": _iso(attempt.started_at),
        "latency_ms": attempt.latency_ms,
        "request_headers": {str(k): str(v) for k, v in headers.items()},
        "response_status": attempt.response_status,
        "response_excerpt": attempt.response_excerpt,
        "error": attempt.error,
        "next_retry_at": _iso(attempt.next_retry_at),
    }


# -- helpers ---------------------------------------------------------------------------------


def _own_waba(request: Request, waba_id: str, method: str) -> None:
    if waba_id != str(business_of(request).pk):
        raise NotFound(
            f"Unsupported {method} request. Object with ID '{safe_text(waba_id, 40)}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation."
        )


def _app(request: Request, app_id: str) -> WebhookApp:
    app = app_selectors.get_app(business_of(request).pk, app_id)
    if app is None:
        raise NotFound(
            f"Unsupported request. The webhook app '{safe_text(app_id, 40)}' does not exist, "
            "or belongs to another business."
        )
    return app


def _chosen_app(request: Request, app_id: str) -> WebhookApp:
    """The named app, else the business's oldest."""
    if app_id:
        return _app(request, app_id)
    app = app_selectors.oldest_app(business_of(request).pk)
    if app is None:
        raise NotFound(
            "Unsupported request. The business has no webhook app yet: create one with "
            "POST /parley/v1/webhooks/apps."
        )
    return app


def _unix(value: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value is not None else None


def _console_link(request: Request, app: WebhookApp) -> str:
    return request.build_absolute_uri(f"/webhooks/{app.app_id}/")


APP_ID = OpenApiParameter(
    "app_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=APP_ID_PATTERN,
    description="The webhook app's id.",
)
DELIVERY_ID = _id_parameter("delivery_id", "The delivery's id.")
WABA_ID = _id_parameter("waba_id", "The business's id.")


def _query(name: str, description: str, **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **extra
    )


HANDSHAKE_FAILED = OpenApiResponse(
    ErrorEnvelope,
    description="Invalid parameter (code 100), or the callback failed the verification "
    "handshake (code 2200: it must answer 200 with hub.challenge as its body, no redirect).",
)


# -- /{version}/{waba_id}/subscribed_apps ----------------------------------------------------


SUBSCRIBED_FIELDS = ("id", "name", "link")


class SubscribedAppsView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_WEBHOOKS)]
    pagination_class = None

    @extend_schema(
        summary="List the apps subscribed to the business's webhooks",
        parameters=[
            _version_parameter(),
            WABA_ID,
            _query(
                "fields",
                "Fields of whatsapp_business_api_data: id, name, link (default: all).",
                pattern=r"^(id|name|link)(,(id|name|link)){0,2}$",
            ),
        ],
        responses=SubscribedAppsOut,
    )
    def get(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id, "get")
        raw = query_text(
            request,
            "fields",
            r"(id|name|link)(,(id|name|link)){0,2}",
            hint="must list id, name or link",
        )
        wanted = set(raw.split(",")) if raw else set(SUBSCRIBED_FIELDS)
        data = []
        for app in app_selectors.list_subscribed_apps(business_of(request).pk):
            values = {"id": app.app_id, "name": app.name, "link": _console_link(request, app)}
            item: dict[str, Any] = {
                "whatsapp_business_api_data": {
                    k: v for k, v in values.items() if k in wanted or k == "id"
                }
            }
            if app.override_callback_url:
                item["override_callback_uri"] = app.override_callback_url
            data.append(item)
        return Response({"data": data})

    @extend_schema(
        summary="Subscribe an app to the business's webhooks (runs the verification handshake)",
        parameters=[
            _version_parameter(),
            WABA_ID,
            _query("app_id", "Parley: which app (default: the oldest).", pattern=APP_ID_PATTERN),
        ],
        request=SubscriptionIn,
        responses={200: SuccessOut, 400: HANDSHAKE_FAILED},
    )
    def post(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id, "post")
        data = self.valid(SubscriptionIn, request)
        query_app = query_text(request, "app_id", APP_ID_PATTERN[1:-1], hint="must be an app id")
        app = _chosen_app(request, data.get("app_id") or query_app)
        app_actions.do_subscribe_app(
            app,
            data.get("override_callback_uri", ""),
            data.get("verify_token", ""),
            **_Actor(request).kwargs(),
        )
        return Response({"success": True})

    @extend_schema(
        summary="Unsubscribe an app from the business's webhooks",
        parameters=[
            _version_parameter(),
            WABA_ID,
            _query("app_id", "Parley: which app (default: the oldest).", pattern=APP_ID_PATTERN),
        ],
        responses=SuccessOut,
    )
    def delete(self, request: Request, version: str, waba_id: str) -> Response:
        _own_waba(request, waba_id, "delete")
        app_id = query_text(request, "app_id", APP_ID_PATTERN[1:-1], hint="must be an app id")
        app = _chosen_app(request, app_id)
        app_actions.do_unsubscribe_app(app, **_Actor(request).kwargs())
        return Response({"success": True})


# -- /parley/v1/webhooks/… -------------------------------------------------------------------


class WebhooksView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.MANAGE_WEBHOOKS)]
    pagination_class: ClassVar[type[BasePagination] | None] = None


class AppsView(WebhooksView):
    pagination_class = MetaCursorPagination
    error_statuses = (409,)

    @extend_schema(summary="List the business's webhook apps", responses=AppOut(many=True))
    def get(self, request: Request) -> Response:
        page, paginator = self.paginate(app_selectors.list_apps(business_of(request).pk), request)
        return paginator.get_paginated_response([app_node(app) for app in page])

    @extend_schema(
        summary="Create a webhook app (its app secret is in this answer only)",
        request=AppCreateIn,
        responses={201: AppWithSecretOut},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(AppCreateIn, request)
        app, secret = app_actions.do_create_app(
            business_of(request),
            data["name"],
            data["callback_url"],
            data["verify_token"],
            data.get("fields") or ["messages"],
            max_concurrency=data.get("max_concurrency", 20),
            timeout_seconds=data.get("timeout_seconds", 10.0),
            **_Actor(request).kwargs(),
        )
        response = Response({**app_node(app), "secret": secret}, status=201)
        response["Cache-Control"] = "no-store"
        return response


class AppView(WebhooksView):
    @extend_schema(summary="Read a webhook app", parameters=[APP_ID], responses=AppOut)
    def get(self, request: Request, app_id: str) -> Response:
        return Response(app_node(_app(request, app_id)))

    @extend_schema(
        summary="Edit a webhook app (a new callback needs the handshake again)",
        parameters=[APP_ID],
        request=AppUpdateIn,
        responses=AppOut,
    )
    def patch(self, request: Request, app_id: str) -> Response:
        app = _app(request, app_id)  # 404 before the body is judged
        data = self.valid(AppUpdateIn, request)
        app = app_actions.do_update_app(app, **data, **_Actor(request).kwargs())
        return Response(app_node(app))

    @extend_schema(
        summary="Delete a webhook app, its secrets and its delivery log",
        parameters=[APP_ID],
        responses=SuccessOut,
    )
    def delete(self, request: Request, app_id: str) -> Response:
        app_actions.do_delete_app(_app(request, app_id), **_Actor(request).kwargs())
        return Response({"success": True})


class AppVerifyView(WebhooksView):
    @extend_schema(
        summary="Run the verification handshake against the app's target and record it",
        parameters=[APP_ID],
        request=None,
        responses=HandshakeOut,
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = _app(request, app_id)
        result = app_actions.do_verify_callback(app, **_Actor(request).kwargs())
        app.refresh_from_db()
        return Response(
            {
                "verified": result.ok,
                "url": result.url,
                "status": result.status,
                "error": result.error,
                "latency_ms": result.latency_ms,
                "app": app_node(app),
            }
        )


class AppSecretView(WebhooksView):
    @extend_schema(
        summary="Rotate the app secret (the new one is in this answer only; the previous one "
        "keeps signing during the overlap)",
        parameters=[APP_ID],
        request=RotateIn,
        responses=AppWithSecretOut,
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = _app(request, app_id)
        data = self.valid(RotateIn, request)
        overlap = dt.timedelta(seconds=data.get("overlap_seconds", 86400))
        secret = app_actions.do_rotate_secret(app, overlap, **_Actor(request).kwargs())
        app.refresh_from_db()
        response = Response({**app_node(app), "secret": secret})
        response["Cache-Control"] = "no-store"
        return response


class AppTestView(WebhooksView):
    @extend_schema(
        summary="Send the app a sample change of one field (the App Dashboard's Test button)",
        parameters=[APP_ID],
        request=TestIn,
        responses=TestOut,
    )
    def post(self, request: Request, app_id: str) -> Response:
        from parley.webhooks.actions.deliveries import do_request_test_event

        app = _app(request, app_id)
        data = self.valid(TestIn, request)
        actor = _Actor(request)
        stream_id = do_request_test_event(
            app, data["field"], actor_label=actor.label, ip_address=actor.ip_address
        )
        return Response({"success": True, "stream_id": str(stream_id)})


class NewestFirstPagination(MetaCursorPagination):
    """Graph-style cursors over a log read newest first: `after` continues to older rows."""

    newest_first = True


class DeliveriesView(WebhooksView):
    pagination_class = NewestFirstPagination

    @extend_schema(
        summary="The delivery log, newest first",
        parameters=[
            _query(
                "message_id",
                "Only deliveries about this message (wamid).",
                pattern=r"^[A-Za-z0-9._=+/-]{1,128}$",
            ),
            _query("state", "Only deliveries in this state.", enum=STATES),
            _query("app_id", "Only deliveries to this app.", pattern=APP_ID_PATTERN),
            _query("since", "Created at or after (Unix time).", pattern=r"^[0-9]{1,11}$"),
            _query("until", "Created before (Unix time).", pattern=r"^[0-9]{1,11}$"),
        ],
        responses=DeliveryOut(many=True),
    )
    def get(self, request: Request) -> Response:
        from parley.webhooks.selectors.deliveries import list_deliveries

        states = "|".join(STATES)
        rows = list_deliveries(
            business_of(request).pk,
            app_id=query_text(request, "app_id", APP_ID_PATTERN[1:-1], hint="must be an app id"),
            message_id=query_text(
                request, "message_id", r"[A-Za-z0-9._=+/-]{1,128}", hint="must be a message id"
            ),
            state=query_text(request, "state", states, hint=f"must be one of {states}"),
            since=query_time(request, "since"),
            until=query_time(request, "until"),
        )
        page, paginator = self.paginate(rows, request)
        return paginator.get_paginated_response([delivery_node(d) for d in page])


def _delivery(request: Request, delivery_id: str) -> WebhookDelivery:
    from parley.webhooks.selectors.deliveries import get_delivery

    found = None
    if re.fullmatch(r"[0-9]{1,18}", delivery_id, flags=re.ASCII):
        found = get_delivery(business_of(request).pk, int(delivery_id))
    if found is None:
        raise NotFound(
            f"Unsupported request. The delivery '{safe_text(delivery_id, 40)}' does not exist."
        )
    return found


class DeliveryView(WebhooksView):
    @extend_schema(
        summary="One delivery: its body and every attempt (headers, answer, latency, next retry)",
        parameters=[DELIVERY_ID],
        responses=DeliveryDetailOut,
    )
    def get(self, request: Request, delivery_id: str) -> Response:
        from parley.webhooks.selectors.deliveries import list_attempts

        delivery = _delivery(request, delivery_id)
        return Response(
            {
                **delivery_node(delivery),
                "body": delivery.body,
                "attempt_log": [attempt_node(a) for a in list_attempts(delivery)],
            }
        )


class DeliveryReplayView(WebhooksView):
    @extend_schema(
        summary="Send a delivery again (a new round of attempts, same webhook id)",
        operation_id="parley_v1_webhooks_delivery_replay",
        parameters=[DELIVERY_ID],
        request=None,
        responses=DeliveryOut,
    )
    def post(self, request: Request, delivery_id: str) -> Response:
        from parley.webhooks.actions.deliveries import do_replay_delivery

        delivery = _delivery(request, delivery_id)
        actor = _Actor(request)
        do_replay_delivery(delivery, actor_label=actor.label, ip_address=actor.ip_address)
        delivery.refresh_from_db()
        return Response(delivery_node(delivery))


class DeliveriesReplayView(WebhooksView):
    error_statuses = (404,)  # an app_id that is not the business's

    @extend_schema(
        summary="Replay deliveries in bulk: the dead letters (or every settled delivery) of "
        "one app or all, in a time range",
        operation_id="parley_v1_webhooks_deliveries_replay",
        request=ReplayIn,
        responses=ReplayOut,
    )
    def post(self, request: Request) -> Response:
        from parley.webhooks.actions.deliveries import do_replay_deliveries

        data = self.valid(ReplayIn, request)
        app_id = data.get("app_id", "")
        if app_id:
            _app(request, app_id)  # another business's app is not found
        since, until = _unix(data.get("since")), _unix(data.get("until"))
        if since is not None and until is not None and since >= until:
            raise InvalidParameter(
                "(#100) Invalid parameter: since must be before until.", field="since"
            )
        actor = _Actor(request)
        count = do_replay_deliveries(
            business_of(request).pk,
            app_id=app_id,
            since=since,
            until=until,
            dead_only=data["state"] == "dead",
            actor_label=actor.label,
            ip_address=actor.ip_address,
        )
        return Response({"replayed": count})
