"""Business API access tokens: created by administrators and developers, shown once, stored
as a SHA-256 digest, revocable. Each holds the scopes (capabilities of the permission matrix)
chosen at creation, bounded by its creator's role."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable

from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import ApiToken, StaffUser
from parley.accounts.roles import TOKEN_SCOPES, Capability, token_scopes_of
from parley.core import clock
from parley.core.crypto import token_digest
from parley.core.errors import InvalidParameter, NotFound, PermissionDenied

TOKEN_PREFIX = "PLY"


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the only time the full token exists outside the caller's hands


def _require(actor: StaffUser) -> None:
    if not actor.can(Capability.MANAGE_API_TOKENS):
        raise PermissionDenied("You may not manage API tokens.")


def _scopes(actor: StaffUser, requested: Iterable[str] | None) -> list[str]:
    """The requested scopes, checked against what the actor's role may give (all of that
    when none are named)."""
    allowed = token_scopes_of(actor.role)
    if requested is None:
        return [c.value for c in allowed]
    wanted = {requested} if isinstance(requested, str) else set(requested)
    known = {c.value for c in TOKEN_SCOPES}
    unknown = sorted(wanted - known)
    if unknown:
        raise InvalidParameter(f"Unknown permission: {unknown[0][:60]}.", field="scopes")
    beyond = [c for c in TOKEN_SCOPES if c.value in wanted and c not in allowed]
    if beyond:
        raise PermissionDenied(
            f"Your role cannot give a token the permission “{beyond[0].label}”.", field="scopes"
        )
    if not wanted:
        raise InvalidParameter("Choose at least one permission for the token.", field="scopes")
    return [c.value for c in TOKEN_SCOPES if c.value in wanted]


def do_create_api_token(
    actor: StaffUser,
    *,
    name: str,
    scopes: Iterable[str] | None = None,
    ip_address: str | None = None,
) -> IssuedToken:
    """A new token for the actor's business. `scopes` are capability names; None gives
    every scope the actor's role may give."""
    _require(actor)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidParameter("Give the token a name of 1 to 100 characters.", field="name")
    granted = _scopes(actor, scopes)
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{prefix}{secrets.token_urlsafe(40)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            business=actor.business,
            name=name,
            prefix=prefix,
            token_hash=token_digest(secret),
            scopes=granted,
            created_by=actor,
            created_at=clock.now(),
        )
        do_record_audit(
            "api_token.created",
            business_id=actor.business_id,
            actor=actor,
            target=f"{name} ({prefix})",
            details={"scopes": granted},
            ip_address=ip_address,
        )
    return IssuedToken(token, secret)


def do_revoke_api_token(actor: StaffUser, token_id: int, *, ip_address: str | None = None) -> None:
    _require(actor)
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .filter(pk=token_id, business_id=actor.business_id)
            .first()
        )
        if token is None:
            raise NotFound("No such token.")
        if token.revoked_at is not None:
            return
        token.revoked_at, token.revoked_by = clock.now(), actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        do_record_audit(
            "api_token.revoked",
            business_id=actor.business_id,
            actor=actor,
            target=f"{token.name} ({token.prefix})",
            ip_address=ip_address,
        )


def authenticate_api_token(secret: str) -> ApiToken | None:
    """The token for a bearer secret, recording when it was last used (at most once a
    minute, so busy integrations do not write on every request)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("business")
        .filter(token_hash=token_digest(secret), revoked_at=None)
        .first()
    )
    if token is None:
        return None
    now = clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
