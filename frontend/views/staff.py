"""The staff directory: search, filters, pagination, bulk role changes and deactivation,
and the create-account form."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from frontend.access import console_view, staff
from frontend.forms import StaffBulkForm, StaffCreateForm, StaffFilterForm
from frontend.selectors import manageable_ids, staff_summary
from frontend.views.common import forbidden, manages_staff, page_of, show_error
from parley.accounts.actions.staff import do_change_roles, do_create_staff, do_set_active
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability, Role, assignable_roles, may_manage
from parley.accounts.selectors import list_staff
from parley.core.errors import ParleyError
from parley.core.http import client_address


def _apply(user: StaffUser, operation: str, ids: list[int], ip: str | None) -> str:
    """Run the one action the bulk form asked for; returns the confirmation to show."""
    if operation.startswith("role:"):
        role = Role(operation.removeprefix("role:"))
        n = do_change_roles(user, ids, role.value, ip_address=ip)
        return f"Role changed to {role.label} for {n} account(s)."
    active = operation == "reactivate"
    n = do_set_active(user, ids, active, ip_address=ip)
    return f"{'Reactivated' if active else 'Deactivated'} {n} account(s)."


@console_view(Capability.VIEW_STAFF)
@require_http_methods(["GET", "POST"])
def staff_list(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    can_manage = manages_staff(user)
    assignable = assignable_roles(user.role)
    filters = StaffFilterForm(request.GET)
    wanted = filters.values()
    matching = list_staff(
        user.business, query=wanted["q"], role=wanted["role"], status=wanted["status"]
    )
    bulk = StaffBulkForm(request.POST or None, assignable=assignable)
    if request.method == "POST":
        if not can_manage:
            return forbidden(request)
        if bulk.is_valid():
            data = bulk.cleaned_data
            ids = manageable_ids(user, matching) if data["all_matching"] else data["ids"]
            try:
                done = _apply(user, data["operation"], ids, client_address(request))
            except ParleyError as exc:
                show_error(bulk, exc)
            else:
                messages.success(request, done)
                return redirect(request.get_full_path())
    page = page_of(request, matching)
    rows = [
        {"user": u, "selectable": can_manage and u.pk != user.pk and may_manage(user.role, u.role)}
        for u in page.object_list
    ]
    return render(
        request,
        "frontend/staff.html",
        {
            "filters": filters,
            "wanted": wanted,
            "filtered": any(wanted.values()),
            "bulk": bulk,
            "page": page,
            "rows": rows,
            "summary": staff_summary(user.business),
            "can_manage": can_manage,
            "selected": set(bulk.cleaned_data.get("ids") or []) if bulk.is_bound else set(),
        },
    )


@console_view(Capability.VIEW_STAFF)
@require_http_methods(["GET", "POST"])
def staff_create(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    assignable = assignable_roles(user.role)
    if not manages_staff(user) or not assignable:
        return forbidden(request)
    form = StaffCreateForm(request.POST or None, assignable=assignable)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = do_create_staff(
                user,
                email=data["email"],
                full_name=data["full_name"],
                role=data["role"],
                password=data["password"],
                ip_address=client_address(request),
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(
                request,
                f"Created {created.email} as {created.role_enum.label}. They set up two-factor "
                "authentication at their first login.",
            )
            return redirect("/staff/?" + urlencode({"q": created.email}))
    return render(request, "frontend/staff_new.html", {"form": form})
