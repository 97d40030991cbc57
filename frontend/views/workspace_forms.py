"""The agents' workspace's forms: each posts to a view that calls one action. They check the
shape of what was typed; the actions check the rules (the service window, who holds the
conversation, capacity) and their errors land on the fields they name."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from frontend.workspace_selectors import MAX_TEMPLATE_PARAMETERS, ReplyTemplate
from parley.core import clock
from routing.models import Agent, Queue

TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
SNOOZE_FOR = [
    ("", "Choose…"),
    ("15", "15 minutes"),
    ("60", "1 hour"),
    ("240", "4 hours"),
    ("1440", "1 day"),
]
MAX_UPLOAD = 16 * 1024 * 1024  # the largest file the media path takes is a video's 16 MB


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Agent.Status.choices, label="My status")


class SessionForm(forms.Form):
    """Names the session the buttons were shown for: a session that changed meanwhile (a
    new one opened, say) is not acted on by mistake."""

    session = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class ReplyForm(forms.Form):
    text = forms.CharField(
        required=False,
        max_length=4096,
        strip=False,
        label="Reply",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "Write a reply… (type /shortcut and Tab)",
                "data-reply-text": "",
            }
        ),
    )
    button_1 = forms.CharField(required=False, max_length=20, label="Button 1")
    button_2 = forms.CharField(required=False, max_length=20, label="Button 2")
    button_3 = forms.CharField(required=False, max_length=20, label="Button 3")

    def buttons(self) -> list[str]:
        data = self.cleaned_data
        return [data[f"button_{i}"] for i in (1, 2, 3) if data.get(f"button_{i}", "").strip()]


class TemplateReplyForm(forms.Form):
    """An approved template, its values given in the order of its fields (`parameter`,
    repeated)."""

    template = forms.ChoiceField(label="Approved template")

    def __init__(self, *args: Any, templates: list[ReplyTemplate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {t.key: t for t in templates}
        field = self.fields["template"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a template…")] + [
            (t.key, f"{t.name} ({t.language})") for t in templates
        ]
        self.parameters: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.data.getlist("parameter") if hasattr(self.data, "getlist") else []
        if len(raw) > MAX_TEMPLATE_PARAMETERS:
            raise ValidationError(f"At most {MAX_TEMPLATE_PARAMETERS} values.")
        values = [str(v).strip() for v in raw]
        template = self.templates.get(data.get("template", ""))
        if template is not None:
            values = values[: template.parameters]
            if len(values) < template.parameters or not all(values):
                self.add_error(
                    "template",
                    f"This template needs {template.parameters} value(s): "
                    + ", ".join(f.label for f in template.fields)
                    + ".",
                )
        if any(len(v) > 1024 for v in values):
            raise ValidationError("A value is at most 1024 characters.")
        self.parameters = values
        return data

    def chosen(self) -> ReplyTemplate:
        return self.templates[self.cleaned_data["template"]]


class AttachmentForm(forms.Form):
    file = forms.FileField(label="File", allow_empty_file=False)
    caption = forms.CharField(required=False, max_length=1024, label="Caption")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise ValidationError("The file is larger than 16 MB.")
        return upload


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=4000,
        label="Private note",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Only staff see notes."}),
    )


class TransferForm(SessionForm):
    to_agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                      label="To an agent")  # fmt: skip
    to_queue = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                      label="Or to a queue")  # fmt: skip
    note = forms.CharField(
        required=False,
        max_length=1000,
        label="Note for whoever takes it",
        widget=forms.TextInput(attrs={"placeholder": "What they need to know"}),
    )

    def __init__(self, *args: Any, agents: list[Agent], queues: list[Queue],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        agent_field, queue_field = self.fields["to_agent"], self.fields["to_queue"]
        assert isinstance(agent_field, forms.TypedChoiceField)
        assert isinstance(queue_field, forms.TypedChoiceField)
        agent_field.choices = [("", "—")] + [
            (str(a.user_id), f"{a.user.full_name} · {a.status} · {a.load}/{a.capacity}")
            for a in agents
        ]
        queue_field.choices = [("", "—")] + [(str(q.pk), q.name) for q in queues]


class SnoozeForm(SessionForm):
    minutes = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                     choices=SNOOZE_FOR, label="Snooze for")  # fmt: skip
    until = forms.DateTimeField(
        required=False,
        label="Or until (UTC)",
        input_formats=TIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        minutes, until = data.get("minutes"), data.get("until")
        if minutes is None and until is None:
            raise ValidationError("Choose how long to snooze for, or until when.")
        return data

    def until_time(self) -> dt.datetime:
        """The end of the snooze on the simulation clock (times typed are UTC)."""
        minutes, until = self.cleaned_data.get("minutes"), self.cleaned_data.get("until")
        if minutes is not None:
            return clock.now() + dt.timedelta(minutes=minutes)
        assert isinstance(until, dt.datetime)
        return until.replace(tzinfo=dt.UTC) if until.tzinfo is None else until.astimezone(dt.UTC)
