"""The agents' workspace: the conversation list (mine, unassigned, all I may see) with the
agent's own status and load, and a conversation's thread with the reply box (free-form
inside the service window, an approved template outside it), canned responses, a file,
private notes, the session's buttons (accept, take, transfer, snooze, resolve) and the
customer panel. The page follows the staff event stream (workspace.js) and asks for the
fragments below (`?part=`) to stay live without a reload.

Every form posts to a small view that calls one action and redirects back (PRG); an
action's error is shown on the form it came from, never as a 500. Only roles that read
conversations and send messages open it; another business's conversation is a 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from frontend import workspace_selectors as ws
from frontend.access import console_view, follow_stream, live_page, staff
from frontend.views.common import not_found
from frontend.views.workspace_forms import (
    AttachmentForm,
    NoteForm,
    ReplyForm,
    SessionForm,
    SnoozeForm,
    StatusForm,
    TemplateReplyForm,
    TransferForm,
)
from parley.accounts.models import StaffUser
from parley.accounts.roles import Capability
from parley.core.clock_selectors import get_process_clock
from parley.core.errors import MessagingError, NotFound, ParleyError
from parley.media.selectors import media_file_of
from parley.messaging import selectors as messaging
from parley.messaging.models import Conversation, Message
from routing.actions.agents import do_set_agent_status
from routing.actions.attachments import do_reply_with_attachment
from routing.actions.replies import do_reply
from routing.actions.sessions import (
    do_accept_session,
    do_resolve_session,
    do_snooze_session,
    do_take_session,
    do_transfer_session,
)
from routing.actions.setup import do_add_note
from routing.models import Session
from routing.selectors import get_open_session

workspace_view = console_view(Capability.READ_CONVERSATIONS, Capability.SEND_MESSAGES)

TABS = [("mine", "Mine"), ("unassigned", "Unassigned"), ("all", "All I may see")]
Action = Callable[[StaffUser, Conversation, Any], str]


def _tab(request: HttpRequest) -> str:
    value = request.GET.get("tab") or request.POST.get("tab") or "mine"
    return value if value in ws.SCOPES else "mine"


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) <= 18 else None


def _url(conversation_id: int | None, tab: str) -> str:
    base = f"/workspace/{conversation_id}/" if conversation_id else "/workspace/"
    return f"{base}?tab={tab}"


def _conversation(user: StaffUser, conversation_id: str | int) -> Conversation | None:
    return messaging.get_conversation(user.business, int(conversation_id))


def _error_text(exc: ParleyError) -> str:
    if isinstance(exc, MessagingError) and exc.details:
        return f"{exc.message}: {exc.details}"
    return exc.message


def _show(request: HttpRequest, form: forms.Form, exc: ParleyError) -> None:
    """An action's error on the field it names; one about the whole request (who holds the
    conversation, say) at the top of the page, which shows it whatever forms it shows."""
    if exc.field in form.fields:
        form.add_error(exc.field, _error_text(exc))
    else:
        messages.error(request, _error_text(exc))


def _file(message: Message) -> dict[str, Any] | None:
    info = media_file_of(message.content if isinstance(message.content, dict) else {})
    if info is None:
        return None
    return {**info, "url": f"/messages/{quote(message.wamid, safe='')}/media/"}


def _list_context(request: HttpRequest, tab: str) -> dict[str, Any]:
    user = staff(request)
    view = get_process_clock()
    header = ws.agent_header(user)
    return {
        "tab": tab,
        "tabs": [{"key": k, "label": label, "current": k == tab} for k, label in TABS],
        "rows": ws.list_rows(user, tab, view.simulated),
        "header": header,
        "status_form": StatusForm(initial={"status": header.status}),
        "sim_now": view.simulated,
        "sim_frozen": view.frozen,
    }


# -- the list ----------------------------------------------------------------------------


@workspace_view
@require_GET
@live_page
def workspace(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    tab = _tab(request)
    part = request.GET.get("part")
    if part == "row":
        # One row, for a page that learnt of it live (None: not in this tab any more).
        session_id, conversation_id = (
            _int(request.GET.get("session")),
            _int(request.GET.get("conversation")),
        )
        row = None
        if session_id is not None:
            row = ws.get_row(user, session_id, tab)
        elif conversation_id is not None:
            row = ws.get_row_of_conversation(user, conversation_id, tab)
        if row is None:
            return not_found(request)
        return render(request, "frontend/_workspace_row.html", {"row": row, "tab": tab})
    if part == "status":
        header = ws.agent_header(user)
        return render(
            request,
            "frontend/_workspace_status.html",
            {"header": header, "tab": tab, "status_form": StatusForm(initial={"status":
             header.status}), "conversation_id": _int(request.GET.get("conversation"))},
        )  # fmt: skip
    return render(request, "frontend/workspace.html", _list_context(request, tab))


@workspace_view
@require_POST
def set_status(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    tab = _tab(request)
    back = _url(_int(request.POST.get("conversation")), tab)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose available, busy, away or offline.")
        return redirect(back)
    try:
        agent = do_set_agent_status(user, form.cleaned_data["status"])
    except ParleyError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Your status is {agent.status}.")
    return redirect(back)


# -- a conversation ----------------------------------------------------------------------


def _thread_context(
    request: HttpRequest, conversation: Conversation, bound: dict[str, forms.Form] | None = None
) -> dict[str, Any]:
    user = staff(request)
    templates = ws.list_reply_templates(user.business_id)
    context: dict[str, Any] = {
        **_list_context(request, _tab(request)),
        **_session_context(request, conversation),
        "window_open": messaging.is_window_open(conversation),
        "items": [_item(i) for i in ws.list_thread(conversation)],
        "canned": ws.list_canned_responses(user.business_id),
        "templates": templates,
        "parameter_slots": _parameter_slots(request, templates),
        "customer": ws.customer_panel(conversation, get_open_session(conversation.pk)),
        "reply_form": ReplyForm(),
        "template_form": TemplateReplyForm(templates=templates),
        "attachment_form": AttachmentForm(),
        "note_form": NoteForm(),
    }
    context |= bound or {}
    return context


def _parameter_slots(
    request: HttpRequest, templates: list[ws.ReplyTemplate]
) -> list[dict[str, Any]]:
    """One input per value the most demanding template needs, refilled after an error (the
    page labels them for the chosen template)."""
    count = max((t.parameters for t in templates), default=0)
    typed = request.POST.getlist("parameter") if request.method == "POST" else []
    return [{"index": i + 1, "value": typed[i] if i < len(typed) else ""} for i in range(count)]


def _session_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    """What the session's block needs (its state, its buttons and their forms)."""
    user = staff(request)
    session = get_open_session(conversation.pk)
    initial = {"session": session.pk} if session else {}
    return {
        "tab": _tab(request),
        "conversation": conversation,
        "session": session,
        "can": ws.may_act_on(user, session),
        "header": ws.agent_header(user),
        "transfer_form": TransferForm(initial=initial, **ws.transfer_targets(user)),
        "snooze_form": SnoozeForm(initial=initial),
    }


def _item(item: ws.ThreadItem) -> dict[str, Any]:
    if item.message is None:
        return {"item": item}
    return {"item": item, "m": item.message, "buttons": ws.message_buttons(item.message),
            "file": _file(item.message)}  # fmt: skip


def _render_thread(
    request: HttpRequest, conversation: Conversation, bound: dict[str, forms.Form] | None = None
) -> HttpResponse:
    return render(request, "frontend/workspace.html", _thread_context(request, conversation, bound))


@workspace_view
@require_GET
@live_page
def thread(request: HttpRequest, conversation_id: str) -> HttpResponse:
    user = staff(request)
    conversation = _conversation(user, conversation_id)
    if conversation is None:
        return not_found(request)
    part = request.GET.get("part")
    if part == "message":
        # One message of the thread, for a page that learnt of it live.
        message = ws.get_thread_message(conversation, request.GET.get("wamid", "")[:128])
        if message is None:
            return not_found(request)
        item = ws.ThreadItem("message", message.created_at, message=message)
        return render(request, "frontend/_workspace_item.html", {"entry": _item(item)})
    if part == "reply":
        # The service window and the reply box, after the window closed or reopened.
        return render(request, "frontend/_workspace_reply_part.html",
                      _thread_context(request, conversation))  # fmt: skip
    if part == "session":
        # The session's state and buttons, after it changed live.
        return render(request, "frontend/_workspace_session.html",
                      _session_context(request, conversation))  # fmt: skip
    return _render_thread(request, conversation)


def _submit(
    request: HttpRequest,
    conversation_id: str,
    make: Callable[[StaffUser, dict[str, Any]], forms.Form],
    name: str,
    act: Action,
) -> HttpResponse:
    """Bind the form, call its one action, redirect back; on an error show the page again
    with the form and the error on the field it names."""
    user = staff(request)
    conversation = _conversation(user, conversation_id)
    if conversation is None:
        return not_found(request)
    form = make(user, {"data": request.POST, "files": request.FILES})
    if form.is_valid():
        try:
            done = act(user, conversation, form)
        except NotFound as exc:
            return not_found(request, exc)
        except ParleyError as exc:
            _show(request, form, exc)
        else:
            messages.success(request, done)
            return redirect(_url(conversation.pk, _tab(request)) + f"#{name}")
    follow_stream(request)  # the page again, live from here
    return _render_thread(request, conversation, {name: form})


class NotFoundInForm(ParleyError):
    """The session a form names is no longer the conversation's open one."""


def _checked_session(form: forms.Form, conversation: Conversation) -> int:
    """The session the form names, if it is still this conversation's open one."""
    session_id = form.cleaned_data["session"]
    current = get_open_session(conversation.pk)
    if current is None or current.pk != session_id:
        raise NotFoundInForm("This conversation changed meanwhile: look again and retry.")
    return int(session_id)


@workspace_view
@require_POST
def reply(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def act(user: StaffUser, conversation: Conversation, form: ReplyForm) -> str:
        do_reply(user, conversation.pk, text=form.cleaned_data["text"], buttons=form.buttons())
        return "Reply sent."

    return _submit(request, conversation_id, lambda u, kw: ReplyForm(**kw), "reply_form", act)


@workspace_view
@require_POST
def reply_template(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def make(user: StaffUser, kw: dict[str, Any]) -> forms.Form:
        return TemplateReplyForm(**kw, templates=ws.list_reply_templates(user.business_id))

    def act(user: StaffUser, conversation: Conversation, form: TemplateReplyForm) -> str:
        chosen = form.chosen()
        do_reply(user, conversation.pk, template=chosen.name, language=chosen.language,
                 components=chosen.components(form.parameters))  # fmt: skip
        return f"Template {chosen.name} sent."

    return _submit(request, conversation_id, make, "template_form", act)


@workspace_view
@require_POST
def attach(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def act(user: StaffUser, conversation: Conversation, form: AttachmentForm) -> str:
        upload = form.cleaned_data["file"]
        do_reply_with_attachment(
            user, conversation.pk, data=upload.read(),
            mime_type=upload.content_type or "application/octet-stream",
            file_name=upload.name or "", caption=form.cleaned_data["caption"],
        )  # fmt: skip
        return f"Sent {upload.name}."

    return _submit(request, conversation_id, lambda u, kw: AttachmentForm(**kw),
                   "attachment_form", act)  # fmt: skip


@workspace_view
@require_POST
def add_note(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def act(user: StaffUser, conversation: Conversation, form: NoteForm) -> str:
        do_add_note(user, conversation.pk, form.cleaned_data["text"])
        return "Private note added."

    return _submit(request, conversation_id, lambda u, kw: NoteForm(**kw), "note_form", act)


@workspace_view
@require_POST
def transfer(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def make(user: StaffUser, kw: dict[str, Any]) -> forms.Form:
        return TransferForm(**kw, **ws.transfer_targets(user))

    def act(user: StaffUser, conversation: Conversation, form: TransferForm) -> str:
        data = form.cleaned_data
        do_transfer_session(
            user, _checked_session(form, conversation), to_agent_user_id=data["to_agent"],
            to_queue_id=data["to_queue"], note=data["note"],
        )  # fmt: skip
        return "Conversation transferred."

    return _submit(request, conversation_id, make, "transfer_form", act)


@workspace_view
@require_POST
def snooze(request: HttpRequest, conversation_id: str) -> HttpResponse:
    def act(user: StaffUser, conversation: Conversation, form: SnoozeForm) -> str:
        until = form.until_time()
        do_snooze_session(user, _checked_session(form, conversation), until)
        return f"Snoozed until {until:%Y-%m-%d %H:%M} UTC or the customer's next message."

    return _submit(request, conversation_id, lambda u, kw: SnoozeForm(**kw), "snooze_form", act)


def _session_button(
    request: HttpRequest, conversation_id: str, do: Callable[[StaffUser, int], Session], done: str
) -> HttpResponse:
    """Accept, take, resolve: a button with no fields; an error is a flash message."""
    user = staff(request)
    conversation = _conversation(user, conversation_id)
    if conversation is None:
        return not_found(request)
    form = SessionForm(request.POST)
    try:
        if not form.is_valid():
            raise NotFoundInForm("The form is out of date: look again and retry.")
        do(user, _checked_session(form, conversation))
    except NotFound as exc:
        return not_found(request, exc)
    except ParleyError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, done)
    return redirect(_url(conversation.pk, _tab(request)))


@workspace_view
@require_POST
def accept(request: HttpRequest, conversation_id: str) -> HttpResponse:
    return _session_button(request, conversation_id, do_accept_session, "Conversation accepted.")


@workspace_view
@require_POST
def take(request: HttpRequest, conversation_id: str) -> HttpResponse:
    return _session_button(request, conversation_id, do_take_session, "The conversation is yours.")


@workspace_view
@require_POST
def resolve(request: HttpRequest, conversation_id: str) -> HttpResponse:
    return _session_button(request, conversation_id, do_resolve_session, "Conversation resolved.")
