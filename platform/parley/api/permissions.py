"""One permission class for every REST endpoint, reached by API tokens (the business's
integrations) and by staff sessions; both are checked against the matrix: a staff member by
role, a token by the scopes it was given (never more than its creator's role held)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from parley.accounts.middleware import VERIFIED_KEY
from parley.accounts.models import Business, StaffUser
from parley.accounts.roles import Capability
from parley.api.auth import ApiClient
from parley.core.errors import PermissionDenied


def business_of(request: Request) -> Business:
    user = request.user
    if isinstance(user, ApiClient):
        return user.business
    assert isinstance(user, StaffUser)
    return user.business


def capability(*needed: Capability, token_allowed: bool = True) -> type[BasePermission]:
    """Require every capability in `needed`: a token must hold each as a scope (and the
    endpoint must allow tokens at all, `token_allowed`); staff need a verified session and
    a role holding each."""

    class HasCapability(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            if isinstance(user, ApiClient):
                if not token_allowed:
                    raise PermissionDenied("(#10) This endpoint does not accept access tokens.")
                missing = [c for c in needed if not user.token.can(c)]
                if missing:
                    raise PermissionDenied(
                        f"(#10) This access token does not have the permission "
                        f"'{missing[0].value}' ({missing[0].label})."
                    )
                return True
            if isinstance(user, StaffUser) and user.is_active:
                verified = bool(request._request.session.get(VERIFIED_KEY))
                return verified and all(user.can(c) for c in needed)
            return False

    return HasCapability
