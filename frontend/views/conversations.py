"""Conversations in the console: the business's exchanges with customers, each message
with its status and when it reached it (read-only)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from frontend.access import console_view, staff
from frontend.views.common import not_found, page_of
from parley.accounts.roles import Capability
from parley.core import clock
from parley.messaging import selectors


@console_view(Capability.READ_CONVERSATIONS)
@require_GET
def conversations(request: HttpRequest) -> HttpResponse:
    business = staff(request).business
    page = page_of(request, selectors.list_conversations(business), 25)
    now = clock.now()
    rows = [{"c": c, "open": selectors.is_window_open(c, now)} for c in page.object_list]
    return render(request, "frontend/conversations.html", {"page": page, "rows": rows})


@console_view(Capability.READ_CONVERSATIONS)
@require_GET
def conversation(request: HttpRequest, conversation_id: str) -> HttpResponse:
    found = selectors.get_conversation(staff(request).business, int(conversation_id))
    if found is None:
        return not_found(request)
    page = page_of(request, selectors.list_messages(found), 50)
    return render(
        request,
        "frontend/conversation.html",
        {"conversation": found, "page": page, "open": selectors.is_window_open(found)},
    )
