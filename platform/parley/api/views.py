"""Phone-number endpoints. Thin: parse, authorise (the token's business), call one action,
render the Cloud API's shape. Everything else (version, method, body limits, envelope) is
`ApiView`'s."""

from __future__ import annotations

import re
from typing import cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.actions.numbers import (
    do_deregister_number,
    do_register_number,
    do_request_code,
    do_set_messaging_limit,
    do_set_quality_rating,
    do_set_throughput,
    do_verify_code,
)
from parley.accounts.models import PhoneNumber
from parley.accounts.roles import Capability
from parley.accounts.selectors import get_number, list_numbers
from parley.api import serializers as s
from parley.api.auth import ApiClient
from parley.api.base import ApiView, safe_text, supported_versions
from parley.api.permissions import capability
from parley.core.errors import NotFound
from parley.core.http import client_address

_ID = re.compile(r"^[0-9]{1,18}$")


def _client(request: Request) -> ApiClient:
    return cast(ApiClient, request.user)


def _number(client: ApiClient, number_id: str) -> PhoneNumber:
    if not _ID.match(number_id):
        raise NotFound(f"Unsupported request - object '{safe_text(number_id, 40)}' does not exist.")
    return get_number(client.business, number_id)


def _version_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "version",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        enum=supported_versions(),
        description="A Graph API version Parley supports (PARLEY API_VERSION_MIN..MAX).",
    )


def _id_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        pattern=r"^[0-9]{1,18}$",
        description=description,
    )


NUMBER_ID = _id_parameter("number_id", "The phone number's id.")


class CloudApiView(ApiView):
    """The Cloud API paths: a Business API token, a supported Graph version."""


class NodeView(CloudApiView):
    """GET /{version}/{id}: a phone number or the business account itself."""

    permission_classes = [capability(Capability.VIEW_NUMBERS)]

    @extend_schema(
        summary="Read a phone number or the business",
        parameters=[
            _version_parameter(),
            OpenApiParameter(
                "node_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="The business's id or one of its phone numbers' ids.",
            ),
        ],
        responses=PolymorphicProxySerializer(
            component_name="Node",
            serializers=[s.PhoneNumberOut, s.BusinessOut],
            resource_type_field_name=None,
        ),
    )
    def get(self, request: Request, version: str, node_id: str) -> Response:
        client = _client(request)
        if node_id == str(client.business.pk):
            return Response(s.business_node(client.business))
        return Response(s.phone_number_node(_number(client, node_id)))


class PhoneNumbersView(CloudApiView):
    """GET /{version}/{waba_id}/phone_numbers"""

    permission_classes = [capability(Capability.VIEW_NUMBERS)]

    @extend_schema(
        summary="List the business's numbers",
        parameters=[_version_parameter(), _id_parameter("waba_id", "The business's id.")],
        responses=s.PhoneNumberItemOut(many=True),
    )
    def get(self, request: Request, version: str, waba_id: str) -> Response:
        client = _client(request)
        if waba_id != str(client.business.pk):
            raise NotFound(
                f"Unsupported get request. Object with ID '{safe_text(waba_id, 40)}' does not "
                "exist."
            )
        page, paginator = self.paginate(list_numbers(client.business), request)
        return paginator.get_paginated_response([s.phone_number_item(n) for n in page])


class RequestCodeView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_NUMBERS)]
    error_statuses = (429,)

    @extend_schema(
        request=s.RequestCodeIn,
        responses=s.SuccessOut,
        summary="Request a code",
        parameters=[_version_parameter(), NUMBER_ID],
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = self.valid(s.RequestCodeIn, request)
        number = _number(client, number_id)
        do_request_code(
            client.business,
            number.pk,
            method=data["code_method"],
            language=data["language"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response({"success": True})


class VerifyCodeView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_NUMBERS)]

    @extend_schema(
        request=s.VerifyCodeIn,
        responses=s.SuccessOut,
        summary="Verify a code",
        parameters=[_version_parameter(), NUMBER_ID],
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = self.valid(s.VerifyCodeIn, request)
        number = _number(client, number_id)
        do_verify_code(
            client.business,
            number.pk,
            code=data["code"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response({"success": True})


class RegisterView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_NUMBERS)]

    @extend_schema(
        request=s.RegisterNumberIn,
        responses=s.SuccessOut,
        summary="Register a number",
        parameters=[_version_parameter(), NUMBER_ID],
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = self.valid(s.RegisterNumberIn, request)
        number = _number(client, number_id)
        do_register_number(
            client.business,
            number.pk,
            pin=data["pin"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response({"success": True})


class DeregisterView(CloudApiView):
    permission_classes = [capability(Capability.MANAGE_NUMBERS)]

    @extend_schema(
        request=s.DeregisterIn,
        responses=s.SuccessOut,
        summary="Deregister",
        parameters=[_version_parameter(), NUMBER_ID],
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        number = _number(client, number_id)
        do_deregister_number(
            client.business, number.pk, actor_label=client.label, ip_address=client_address(request)
        )
        return Response({"success": True})


class ThroughputView(ApiView):
    """POST /parley/v1/simulator/numbers/{number_id}/throughput `{"level"}`: what the platform
    decides on its own (a number's throughput level), on demand. Upgrading to HIGH takes a
    while of simulated time, during which the number's sends fail with 131057."""

    permission_classes = [capability(Capability.MANAGE_NUMBERS)]
    pagination_class = None

    @extend_schema(
        request=s.ThroughputIn,
        responses=s.PhoneNumberOut,
        summary="Set a number's throughput level",
        parameters=[NUMBER_ID],
    )
    def post(self, request: Request, number_id: str) -> Response:
        client = _client(request)
        number = _number(client, number_id)
        data = self.valid(s.ThroughputIn, request)
        number = do_set_throughput(
            client.business,
            number.pk,
            level=data["level"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response(s.phone_number_node(number))


class QualityView(ApiView):
    """POST /parley/v1/simulator/numbers/{number_id}/quality `{"rating"}`: the number's
    quality rating (GREEN, YELLOW, RED), as the platform would set it from customers'
    feedback. A change is a `number.quality_changed` event; RED stops messaging-limit
    upgrades."""

    permission_classes = [capability(Capability.MANAGE_NUMBERS)]
    pagination_class = None

    @extend_schema(
        request=s.QualityIn,
        responses=s.PhoneNumberOut,
        summary="Set a number's quality rating",
        parameters=[NUMBER_ID],
    )
    def post(self, request: Request, number_id: str) -> Response:
        client = _client(request)
        number = _number(client, number_id)
        data = self.valid(s.QualityIn, request)
        number = do_set_quality_rating(
            client.business,
            number.pk,
            rating=data["rating"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response(s.phone_number_node(number))


class MessagingLimitView(ApiView):
    """POST /parley/v1/simulator/businesses/{waba_id}/messaging_limit `{"tier"}`: the
    business portfolio's messaging limit tier (TIER_250 … TIER_UNLIMITED), at once."""

    permission_classes = [capability(Capability.MANAGE_NUMBERS)]
    pagination_class = None

    @extend_schema(
        request=s.MessagingLimitIn,
        responses=s.BusinessOut,
        summary="Set the business's messaging limit tier",
        parameters=[_id_parameter("waba_id", "The business's id.")],
    )
    def post(self, request: Request, waba_id: str) -> Response:
        client = _client(request)
        if waba_id != str(client.business.pk):
            raise NotFound(
                f"Unsupported post request. Object with ID '{safe_text(waba_id, 40)}' does not "
                "exist."
            )
        data = self.valid(s.MessagingLimitIn, request)
        business = do_set_messaging_limit(
            client.business,
            tier=data["tier"],
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response(s.business_node(business))
