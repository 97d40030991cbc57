"""Business API tokens: list, create with scopes bounded by the creator's role (the secret is
shown once, in the response to the POST), revoke."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from frontend.access import console_view, staff
from frontend.forms import TokenCreateForm
from frontend.views.common import not_found, show_error
from parley.accounts.actions.tokens import IssuedToken, do_create_api_token, do_revoke_api_token
from parley.accounts.roles import Capability, token_scopes_of
from parley.accounts.selectors import list_api_tokens
from parley.core.errors import NotFound, ParleyError
from parley.core.http import client_address


@console_view(Capability.MANAGE_API_TOKENS)
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    offered = token_scopes_of(user.role)
    form = TokenCreateForm(request.POST or None, offered=offered)
    issued: IssuedToken | None = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = do_create_api_token(
                user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                ip_address=client_address(request),
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            form = TokenCreateForm(offered=offered)
    endpoint = request.build_absolute_uri(
        f"/{settings.PARLEY['API_VERSION']}/{user.business_id}/phone_numbers"
    )
    response = render(
        request,
        "frontend/tokens.html",
        {
            "form": form,
            "tokens": list_api_tokens(user.business),
            "issued": issued,
            "endpoint": endpoint,
        },
    )
    # A new secret exists only in the response to its POST: no page here is ever cached.
    response["Cache-Control"] = "no-store"
    return response


@console_view(Capability.MANAGE_API_TOKENS)
@require_POST
def revoke_token(request: HttpRequest, token_id: str) -> HttpResponse:
    try:
        do_revoke_api_token(staff(request), int(token_id), ip_address=client_address(request))
    except NotFound as exc:
        return not_found(request, exc)
    except ParleyError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Token revoked: requests using it are now refused.")
    return redirect("/tokens/")
