"""`GET /parley/v1/security/e2ee-health`: the business's key-agreement and decryption
health, for administrators (staff sessions with VIEW_SECURITY_HEALTH; not API tokens)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from e2ee import selectors
from parley.accounts.roles import Capability
from parley.api.auth import BearerTokenAuthentication
from parley.api.permissions import business_of, capability


class E2eeHealthView(APIView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.VIEW_SECURITY_HEALTH, token_allowed=False)]

    @extend_schema(summary="End-to-end encryption health of the business's numbers")
    def get(self, request: Request) -> Response:
        business = business_of(request)
        return Response(
            {
                "business_id": str(business.pk),
                **selectors.get_health(business_id=business.pk).as_dict(),
            }
        )
