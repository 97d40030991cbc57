"""`GET /parley/v1/security/e2ee-health`: the business's key-agreement and decryption
health, for administrators (staff sessions with VIEW_SECURITY_HEALTH; not API tokens)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from e2ee import selectors
from parley.accounts.roles import Capability
from parley.api.auth import BearerTokenAuthentication
from parley.api.base import ApiView
from parley.api.permissions import business_of, capability


def _rate(name: str, rate: str) -> Any:
    return inline_serializer(
        name,
        {
            "attempted": serializers.IntegerField(),
            "failed": serializers.IntegerField(),
            rate: serializers.FloatField(allow_null=True),
            "target": serializers.FloatField(),
            "healthy": serializers.BooleanField(),
        },
    )


class E2eeHealthView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.VIEW_SECURITY_HEALTH, token_allowed=False)]

    @extend_schema(
        summary="End-to-end encryption health of the business's numbers",
        responses=inline_serializer(
            "E2eeHealth",
            {
                "business_id": serializers.CharField(),
                "devices": serializers.IntegerField(),
                "key_agreements": _rate("E2eeKeyAgreements", "success_rate"),
                "decryption": _rate("E2eeDecryption", "failure_rate"),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        business = business_of(request)
        return Response(
            {
                "business_id": str(business.pk),
                **selectors.get_health(business_id=business.pk).as_dict(),
            }
        )
