"""One permission class for Parley's own REST endpoints, reached by API tokens (the
business's integrations) and by staff sessions; both are checked against the matrix."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from parley.accounts.middleware import VERIFIED_KEY
from parley.accounts.models import Business, StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import ApiClient


def business_of(request: Request) -> Business:
    user = request.user
    if isinstance(user, ApiClient):
        return user.business
    assert isinstance(user, StaffUser)
    return user.business


def capability(*needed: Capability, token_allowed: bool = True) -> type[BasePermission]:
    """Tokens are created only by roles holding MANAGE_API_TOKENS, so a token may act as
    such a role where `token_allowed`; staff need a verified session and every capability."""

    class HasCapability(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if isinstance(user, ApiClient):
                return token_allowed
            if isinstance(user, StaffUser) and user.is_active:
                verified = bool(request._request.session.get(VERIFIED_KEY))
                return verified and all(user.can(c) for c in needed)
            return False

    return HasCapability
