"""Customers: the business's simulated customers (fleet handsets) a developer drives: the
list with their online state and the create form; a customer's page with what its phone
shows and forms to send a text, tap a reply button, share a location, go on- or offline
and read. Everything goes through the fleet (`e2ee.handsets.customers`), encrypted."""

from __future__ import annotations

import hashlib
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from e2ee.handsets import customers, faults
from frontend.access import console_view, staff
from frontend.customer_forms import ButtonForm, CustomerCreateForm, LocationForm, TextForm
from frontend.views.common import not_found, show_error
from parley.accounts.models import Business
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_numbers
from parley.core.errors import NotFound, ParleyError

SEND_FORMS: dict[str, type[forms.Form]] = {
    "text": TextForm,
    "button": ButtonForm,
    "location": LocationForm,
}


@console_view(Capability.DRIVE_CUSTOMERS)
@require_http_methods(["GET", "POST"])
def customers_page(request: HttpRequest) -> HttpResponse:
    business = staff(request).business
    form = CustomerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            row = customers.do_create_customer(
                business,
                data["phone_number"],
                language=data["language"],
                online=data["online"],
                read_delay_seconds=data["read_delay_seconds"],
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, f"Created the customer {row.device.e164}.")
            return redirect(f"/customers/{row.device.e164}/")
    rows = customers.customers_of(list(customers.list_customers(business)))
    return render(
        request,
        "frontend/customers.html",
        {"rows": rows, "form": form, "fault_numbers": faults.list_fault_numbers()},
    )


def _numbers(business: Business) -> list[str]:
    return [n.e164 for n in list_numbers(business)]


def _detail(
    request: HttpRequest,
    business: Business,
    customer: customers.Customer,
    *,
    bound: dict[str, forms.Form] | None = None,
    error: str = "",
) -> HttpResponse:
    numbers = _numbers(business)
    send_forms: dict[str, Any] = {
        f"{op}_form": cls(numbers=numbers)  # type: ignore[call-arg]
        for op, cls in SEND_FORMS.items()
    }
    send_forms |= bound or {}
    inbox: list[dict[str, Any]] = []
    fleet_error = ""
    try:
        inbox = customers.get_customer_inbox(business, customer.phone_number)
    except customers.FleetDown as exc:
        fleet_error = exc.message
    context = {
        "customer": customer,
        "inbox": inbox,
        "fleet_error": fleet_error,
        "error": error,
        "has_numbers": bool(numbers),
        **send_forms,
    }
    return render(request, "frontend/customer_detail.html", context)


def _message(op: str, data: dict[str, Any]) -> dict[str, Any]:
    """The form's data as the message `do_send_as_customer` takes."""
    to = data["to"]
    if op == "button":
        return {"to": to, "type": "button_reply",
                "button_reply": {"id": data["reply_id"], "title": data["title"]}}  # fmt: skip
    if op == "location":
        return {"to": to, "type": "location", "location": {
            "latitude": data["latitude"], "longitude": data["longitude"],
            "name": data["name"]}}  # fmt: skip
    message: dict[str, Any] = {"to": to, "type": "text", "text": {"body": data["body"]}}
    if data.get("reply_to"):
        message["context"] = {"message_id": data["reply_to"]}
    if data.get("ad_url"):
        message["referral"] = {
            "source_type": "ad", "source_url": data["ad_url"],
            "source_id": hashlib.sha256(data["ad_url"].encode()).hexdigest()[:15],
            "headline": data.get("ad_headline", ""),
        }  # fmt: skip
    return message


@console_view(Capability.DRIVE_CUSTOMERS)
@require_http_methods(["GET", "POST"])
def customer_detail(request: HttpRequest, phone_number: str) -> HttpResponse:
    business = staff(request).business
    try:
        row = customers.get_customer(business, phone_number)
    except NotFound as exc:
        return not_found(request, exc)
    customer = customers.customer_of(row)
    if request.method == "GET":
        return _detail(request, business, customer)
    op = request.POST.get("op", "")
    here = f"/customers/{customer.phone_number}/"
    try:
        if op in SEND_FORMS:
            form = SEND_FORMS[op](request.POST, numbers=_numbers(business))  # type: ignore[call-arg]
            if not form.is_valid():
                return _detail(request, business, customer, bound={f"{op}_form": form})
            try:
                customers.do_send_as_customer(
                    business, customer.phone_number, _message(op, form.cleaned_data)
                )
            except ParleyError as exc:
                show_error(form, exc)
                return _detail(request, business, customer, bound={f"{op}_form": form})
            messages.success(request, "Sent through the relay, encrypted.")
        elif op in ("online", "offline"):
            customers.do_update_customer(business, customer.phone_number, online=op == "online")
            messages.success(request, f"The phone is {op}.")
        elif op in ("block", "unblock"):
            customers.do_update_customer(business, customer.phone_number,
                                         blocks_businesses=op == "block")  # fmt: skip
            messages.success(request, "The customer blocked businesses." if op == "block"
                             else "The customer unblocked businesses.")  # fmt: skip
        elif op == "read":
            read = customers.do_read_as_customer(business, customer.phone_number)
            messages.success(request, f"Opened the chats: {len(read)} message(s) read.")
        else:
            return _detail(request, business, customer, error="Unknown action.")
    except ParleyError as exc:
        return _detail(request, business, customer, error=exc.message)
    return redirect(here)
