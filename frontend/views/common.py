"""Small helpers shared by the console's views: error pages, form errors, pagination."""

from __future__ import annotations

from typing import TypeVar

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.core.errors import ParleyError

PER_PAGE = 50
M = TypeVar("M", bound=Model)


def error_page(request: HttpRequest, status: int, title: str, detail: str = "") -> HttpResponse:
    return render(
        request,
        "frontend/error.html",
        {"status": status, "title": title, "detail": detail},
        status=status,
    )


def forbidden(request: HttpRequest) -> HttpResponse:
    return error_page(request, 403, "Not allowed", "Your role does not allow this action.")


def not_found(request: HttpRequest, exc: ParleyError | None = None) -> HttpResponse:
    return error_page(request, 404, "Not found", exc.message if exc else "")


def show_error(form: forms.Form, exc: ParleyError) -> None:
    """Put an action's error on the field it names, or on the whole form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def manages_staff(user: StaffUser) -> bool:
    return user.can(Capability.MANAGE_STAFF) or user.can(Capability.MANAGE_AGENTS)


def page_of(request: HttpRequest, queryset: QuerySet[M], per_page: int = PER_PAGE) -> Page[M]:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))
