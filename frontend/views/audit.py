"""The audit log of this business, newest first, with the chain verification result."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from frontend.access import console_view, staff
from frontend.forms import AuditFilterForm
from frontend.selectors import audit_action_names
from frontend.views.common import page_of
from parley.accounts.actions.audit import verify_chain
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_audit_entries


@console_view(Capability.VIEW_AUDIT_LOG)
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    filters = AuditFilterForm(request.GET)
    action = filters.cleaned_data["action"].strip() if filters.is_valid() else ""
    page = page_of(request, list_audit_entries(user.business, action=action))
    return render(
        request,
        "frontend/audit.html",
        {
            "filters": filters,
            "action": action,
            "page": page,
            "action_names": audit_action_names(user.business),
            "chain": verify_chain(user.business.pk),
        },
    )
