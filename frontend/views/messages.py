"""The developers' message log: every message of the business's numbers, both directions,
with its status, error and the price billing rated; and one message's timeline with its
conversation, reply context, charges and stream events (read-only). The text of messages
shows only to roles that read conversations."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from frontend.access import console_view, live_page, staff
from frontend.message_selectors import charges_for, list_message_stream_events
from frontend.views.common import not_found, page_of
from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import Business, StaffUser
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_numbers
from parley.core import clock
from parley.core.errors import ParleyError
from parley.media.selectors import media_file_of, read_message_attachment
from parley.messaging import selectors
from parley.messaging.models import Message

PER_PAGE = 50
TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d"]  # fmt: skip


class MessageLogForm(forms.Form):
    """The log's filters (GET). Times are the simulation clock's, in UTC."""

    number = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Number")
    direction = forms.ChoiceField(
        required=False,
        label="Direction",
        choices=[("", "Both directions"), *Message.Direction.choices],
    )
    status = forms.ChoiceField(
        required=False, label="Status", choices=[("", "Any status"), *Message.Status.choices]
    )
    customer = forms.CharField(
        required=False,
        max_length=32,
        label="Customer",
        widget=forms.TextInput(attrs={"placeholder": "+919876543210", "autocomplete": "off"}),
    )
    since = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    wamid = forms.CharField(
        required=False,
        max_length=128,
        label="Find a message by wamid",
        widget=forms.TextInput(attrs={"placeholder": "wamid.…", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, business: Business, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["number"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "All numbers")] + [
            (str(n.pk), f"{n.e164} · {n.display_name}") for n in list_numbers(business)
        ]

    def clean_customer(self) -> str:
        raw = self.cleaned_data["customer"].strip()
        if not raw:
            return ""
        try:
            customer, _ = parse_e164(raw)
        except ParleyError as exc:
            raise ValidationError(exc.message) from None
        return customer

    def clean_wamid(self) -> str:
        return str(self.cleaned_data["wamid"]).strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "The end of the range must be after its start.")
        return data

    def as_filter(self) -> selectors.MessageLogFilter:
        d = self.cleaned_data
        return selectors.MessageLogFilter(
            number_id=d.get("number"),
            direction=d.get("direction") or "",
            status=d.get("status") or "",
            customer=d.get("customer") or "",
            since=_utc(d.get("since")),
            until=_utc(d.get("until")),
            wamid=d.get("wamid") or "",
        )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _file(user: StaffUser, m: Message) -> dict[str, Any] | None:
    """A media message's file (name, type, size, download link), for roles that read
    conversations."""
    if not user.can(Capability.READ_CONVERSATIONS):
        return None
    info = media_file_of(m.content if isinstance(m.content, dict) else {})
    if info is None:
        return None
    return {**info, "url": f"/messages/{quote(m.wamid, safe='')}/media/"}


def _rows(user: StaffUser, messages: list[Message]) -> list[dict[str, Any]]:
    charges = charges_for(user.business_id, messages) if user.can(Capability.VIEW_BILLING) else {}
    return [{"m": m, "charges": charges.get(m.wamid, []), "file": _file(user, m)}
            for m in messages]  # fmt: skip


def _flags(user: StaffUser) -> dict[str, bool]:
    return {
        "show_text": user.can(Capability.READ_CONVERSATIONS),
        "show_prices": user.can(Capability.VIEW_BILLING),
    }


@console_view(Capability.VIEW_MESSAGE_LOG)
@require_GET
@live_page
def message_log(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    business = user.business
    form = MessageLogForm(request.GET, business=business)
    if not form.is_valid():
        return render(
            request,
            "frontend/messages.html",
            {"form": form, "page": None, "rows": [], **_flags(user)},
            status=400,
        )
    filters = form.as_filter()
    page = page_of(request, selectors.list_business_messages(business, filters), PER_PAGE)
    only_number = filters == selectors.MessageLogFilter(number_id=filters.number_id)
    # New messages are added live to the first page of a view filtered by number at most;
    # any other view shows a "new messages" notice instead.
    live_insert = only_number and page.number == 1
    number = next((n for n in list_numbers(business) if n.pk == filters.number_id), None)
    return render(
        request,
        "frontend/messages.html",
        {
            "form": form,
            "page": page,
            "rows": _rows(user, list(page.object_list)),
            "filtered": not only_number,
            "searched": filters.wamid,
            "live_insert": live_insert,
            "live_number": number,
            **_flags(user),
        },
    )


@console_view(Capability.VIEW_MESSAGE_LOG)
@require_GET
@live_page
def message_detail(request: HttpRequest, wamid: str) -> HttpResponse:
    user = staff(request)
    message = selectors.get_business_message(user.business, wamid)
    if message is None:
        return not_found(request)
    flags = _flags(user)
    if request.GET.get("part") == "row":
        # One row of the log, for the page that learnt of a new message live.
        return render(request, "frontend/_message_row.html", {"row": _rows(user, [message])[0],
                                                              **flags})  # fmt: skip
    conversation = message.conversation
    replied = (
        selectors.get_business_message(user.business, message.reply_to)
        if message.reply_to
        else None
    )
    charges = _rows(user, [message])[0]["charges"]
    return render(
        request,
        "frontend/message_detail.html",
        {
            "m": message,
            "conversation": conversation,
            "window_open": selectors.is_window_open(conversation, clock.now()),
            "replied": replied,
            "charges": charges,
            "events": list_message_stream_events(
                user.business_id, message.wamid, with_content=flags["show_text"]
            ),
            "timeline": _timeline(message),
            "file": _file(user, message),
            **flags,
        },
    )


def _timeline(m: Message) -> list[dict[str, Any]]:
    """Each lifecycle step the message can reach, with when it did (None: not yet)."""
    if m.direction == Message.Direction.INBOUND:
        steps = [("received", m.received_at), ("read", m.read_at)]
    else:
        steps = [("accepted", m.accepted_at), ("sent", m.sent_at),
                 ("delivered", m.delivered_at), ("read", m.read_at)]  # fmt: skip
        if m.failed_at or m.status != Message.Status.EXPIRED:
            steps.append(("failed", m.failed_at))
        if m.expired_at or m.status != Message.Status.FAILED:
            steps.append(("expired", m.expired_at))
    return [{"status": s, "at": at} for s, at in steps]


@console_view(Capability.READ_CONVERSATIONS)
@require_GET
def message_media(request: HttpRequest, wamid: str) -> HttpResponse:
    """A media message's file, decrypted for staff of its business who read conversations."""
    user = staff(request)
    message = selectors.get_business_message(user.business, wamid)
    info = _file(user, message) if message is not None else None
    if message is None or info is None:
        return not_found(request)
    data = read_message_attachment(message.content)
    response = HttpResponse(data, content_type=info["mime_type"])
    name = info["name"] or f"{info['kind'] or 'file'}"
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["Cache-Control"] = "private, no-store"
    return response
