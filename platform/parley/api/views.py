"""Phone-number endpoints. Thin: parse, authorise (the token's business), call one action,
render the Cloud API's shape."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from parley.accounts.actions.numbers import (
    do_deregister_number,
    do_register_number,
    do_request_code,
    do_verify_code,
)
from parley.accounts.selectors import get_number, list_numbers
from parley.api import serializers as s
from parley.api.auth import ApiClient
from parley.core.errors import NotFound


def _client(request: Request) -> ApiClient:
    return cast(ApiClient, request.user)


def _ip(request: Request) -> str | None:
    return cast(str | None, request.META.get("REMOTE_ADDR"))


def _valid(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        from rest_framework.exceptions import ValidationError

        raise ValidationError({"body": ["must be a JSON object"]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return cast(dict[str, Any], serializer.validated_data)


class NodeView(APIView):
    """GET /{version}/{id}: a phone number or the business account itself."""

    @extend_schema(responses=s.PhoneNumberOut, summary="Read a phone number or business")
    def get(self, request: Request, version: str, node_id: str) -> Response:
        client = _client(request)
        if node_id == str(client.business.pk):
            return Response(s.business_node(client.business))
        return Response(s.phone_number_node(get_number(client.business, node_id)))


class PhoneNumbersView(APIView):
    """GET /{version}/{waba_id}/phone_numbers"""

    @extend_schema(responses=s.PhoneNumberOut(many=True), summary="List the business's numbers")
    def get(self, request: Request, version: str, waba_id: str) -> Response:
        client = _client(request)
        if waba_id != str(client.business.pk):
            raise NotFound(f"Unsupported get request. Object with ID '{waba_id}' does not exist.")
        data = [s.phone_number_node(n) for n in list_numbers(client.business)]
        return Response({"data": data, "paging": {"cursors": {}}})


class RequestCodeView(APIView):
    @extend_schema(request=s.RequestCodeIn, responses=s.SuccessOut, summary="Request a code")
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = _valid(s.RequestCodeIn, request)
        number = get_number(client.business, number_id)
        do_request_code(
            client.business,
            number.pk,
            method=data["code_method"],
            language=data["language"],
            actor_label=client.label,
            ip_address=_ip(request),
        )
        return Response({"success": True})


class VerifyCodeView(APIView):
    @extend_schema(request=s.VerifyCodeIn, responses=s.SuccessOut, summary="Verify a code")
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = _valid(s.VerifyCodeIn, request)
        number = get_number(client.business, number_id)
        do_verify_code(
            client.business,
            number.pk,
            code=data["code"],
            actor_label=client.label,
            ip_address=_ip(request),
        )
        return Response({"success": True})


class RegisterView(APIView):
    @extend_schema(request=s.RegisterIn, responses=s.SuccessOut, summary="Register a number")
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = _valid(s.RegisterIn, request)
        number = get_number(client.business, number_id)
        do_register_number(
            client.business,
            number.pk,
            pin=data["pin"],
            actor_label=client.label,
            ip_address=_ip(request),
        )
        return Response({"success": True})


class DeregisterView(APIView):
    @extend_schema(request=s.DeregisterIn, responses=s.SuccessOut, summary="Deregister")
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        number = get_number(client.business, number_id)
        do_deregister_number(
            client.business, number.pk, actor_label=client.label, ip_address=_ip(request)
        )
        return Response({"success": True})
