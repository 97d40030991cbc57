"""Message templates in the console: the list with filters and the create form, a template's
page (edit, delete) and the simulated review's buttons (approve, reject with a reason, pause,
disable, reinstate). Developers and administrators."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from frontend.access import console_view, staff
from frontend.views.common import not_found, page_of
from parley.accounts.roles import Capability
from parley.core.errors import NotFound, ParleyError
from parley.core.http import client_address
from parley.message_templates import rules
from parley.message_templates.actions import (
    DECISIONS,
    MAX_REASON,
    Actor,
    do_create_template,
    do_delete_templates,
    do_edit_template,
    do_review_template,
)
from parley.message_templates.models import MessageTemplate
from parley.message_templates.selectors import count_by_status, get_template, list_templates

CATEGORY_CHOICES = [(c, c.title()) for c in rules.CATEGORIES]
FORMAT_CHOICES = [("POSITIONAL", "Positional ({{1}}, {{2}})"), ("NAMED", "Named ({{first_name}})")]
JSON_HELP = (
    "Meta's components JSON (HEADER, BODY, FOOTER, BUTTONS with their examples). When given, it "
    "replaces the fields above."
)


class TemplateFilterForm(forms.Form):
    name = forms.CharField(required=False, max_length=512, label="Name")
    status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[("", "Any status"), *[(s, s.title()) for s in MessageTemplate.Status.values]],
    )
    category = forms.ChoiceField(
        required=False, label="Category", choices=[("", "Any category"), *CATEGORY_CHOICES]
    )
    language = forms.CharField(required=False, max_length=15, label="Language")


class TemplateCreateForm(forms.Form):
    name = forms.CharField(max_length=512, help_text=rules.NAME_HINT.capitalize() + ".")
    language = forms.CharField(max_length=15, initial="en_US")
    category = forms.ChoiceField(choices=CATEGORY_CHOICES, initial="UTILITY")
    parameter_format = forms.ChoiceField(choices=FORMAT_CHOICES, initial="POSITIONAL")
    header_text = forms.CharField(required=False, max_length=rules.MAX_HEADER, label="Header")
    header_example = forms.CharField(
        required=False, max_length=rules.MAX_EXAMPLE, label="Header example",
        help_text="The header variable's example value (name=value for a named one).",
    )  # fmt: skip
    body_text = forms.CharField(
        required=False,
        max_length=rules.MAX_BODY,
        label="Body",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Variables as {{1}}, {{2}} or {{first_name}}.",
    )
    body_examples = forms.CharField(
        required=False,
        label="Body examples",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One example per variable, one per line (name=value for named variables).",
    )
    footer_text = forms.CharField(required=False, max_length=rules.MAX_FOOTER, label="Footer")
    quick_replies = forms.CharField(
        required=False,
        label="Quick reply buttons",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One button text per line.",
    )
    components_json = forms.CharField(
        required=False,
        label="Components (JSON)",
        widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=JSON_HELP,
    )

    def clean_components_json(self) -> Any:
        return _parse_json(self.cleaned_data.get("components_json", ""))

    def components(self) -> Any:
        data = self.cleaned_data
        if data.get("components_json") is not None:
            return data["components_json"]
        named = data["parameter_format"] == "NAMED"
        out: list[dict[str, Any]] = []
        if data["header_text"]:
            header: dict[str, Any] = {
                "type": "HEADER",
                "format": "TEXT",
                "text": data["header_text"],
            }
            if data["header_example"]:
                header["example"] = _examples([data["header_example"]], named, "header")
            out.append(header)
        body: dict[str, Any] = {"type": "BODY", "text": data["body_text"]}
        lines = [x.strip() for x in data["body_examples"].splitlines() if x.strip()]
        if lines:
            body["example"] = _examples(lines, named, "body")
        out.append(body)
        if data["footer_text"]:
            out.append({"type": "FOOTER", "text": data["footer_text"]})
        replies = [x.strip() for x in data["quick_replies"].splitlines() if x.strip()]
        if replies:
            buttons = [{"type": "QUICK_REPLY", "text": r} for r in replies]
            out.append({"type": "BUTTONS", "buttons": buttons})
        return out


def _examples(lines: list[str], named: bool, where: str) -> dict[str, Any]:
    if not named:
        return {"header_text": lines} if where == "header" else {"body_text": [lines]}
    params = []
    for line in lines:
        name, _, value = line.partition("=")
        params.append({"param_name": name.strip(), "example": value.strip()})
    return {f"{where}_text_named_params": params}


def _parse_json(raw: str) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise forms.ValidationError(f"This is not valid JSON: {exc}") from None


class TemplateEditForm(forms.Form):
    category = forms.ChoiceField(choices=CATEGORY_CHOICES)
    parameter_format = forms.ChoiceField(choices=FORMAT_CHOICES)
    components_json = forms.CharField(
        label="Components (JSON)",
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono"}),
        help_text="Meta's components JSON. Saving sends the template back to review.",
    )

    def clean_components_json(self) -> Any:
        return _parse_json(self.cleaned_data.get("components_json", ""))


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[(d, d) for d in DECISIONS])
    reason = forms.CharField(required=False, max_length=MAX_REASON)


def _actor(request: HttpRequest) -> Actor:
    return Actor(user=staff(request), ip_address=client_address(request))


def _create_error(form: forms.Form, exc: ParleyError) -> None:
    field = exc.field if exc.field in form.fields else None
    if exc.field == "components":
        field = "components_json" if form.cleaned_data.get("components_json") else "body_text"
    form.add_error(field, exc.message)


@console_view(Capability.MANAGE_TEMPLATES)
@require_http_methods(["GET", "POST"])
def templates_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    form = TemplateCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            template = do_create_template(
                user.business,
                name=data["name"].strip(),
                language=data["language"].strip(),
                category=data["category"],
                parameter_format=data["parameter_format"],
                components=form.components(),
                actor=_actor(request),
            )
        except ParleyError as exc:
            _create_error(form, exc)
        else:
            messages.success(request, f"Template {template.name} ({template.language}) submitted.")
            return redirect(f"/templates/{template.graph_id}/")
    filters = TemplateFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    rows = list_templates(
        user.business,
        name=criteria.get("name", "").strip(),
        status=criteria.get("status", ""),
        category=criteria.get("category", ""),
        language=criteria.get("language", "").strip(),
    )
    return render(
        request,
        "frontend/templates.html",
        {
            "form": form,
            "filters": filters,
            "filtered": any(criteria.values()),
            "page": page_of(request, rows),
            "counts": count_by_status(user.business),
        },
    )


def _detail(
    request: HttpRequest, template: MessageTemplate, form: TemplateEditForm | None = None
) -> HttpResponse:
    form = form or TemplateEditForm(
        initial={
            "category": template.category,
            "parameter_format": template.parameter_format,
            "components_json": json.dumps(template.components, indent=2, ensure_ascii=False),
        }
    )
    decisions = [d for d, (sources, _) in DECISIONS.items() if template.status in sources]
    return render(
        request,
        "frontend/template_detail.html",
        {
            "template": template,
            "form": form,
            "decisions": decisions,
            "reasons": rules.REJECTION_REASONS,
            "components_text": json.dumps(template.components, indent=2, ensure_ascii=False),
        },
    )


@console_view(Capability.MANAGE_TEMPLATES)
@require_http_methods(["GET", "POST"])
def template_detail(request: HttpRequest, template_id: str) -> HttpResponse:
    user = staff(request)
    try:
        template = get_template(user.business, template_id)
    except NotFound as exc:
        return not_found(request, exc)
    if request.method == "GET":
        return _detail(request, template)
    form = TemplateEditForm(request.POST)
    if form.is_valid():
        try:
            do_edit_template(
                user.business,
                template.graph_id,
                components=form.cleaned_data["components_json"],
                category=form.cleaned_data["category"],
                parameter_format=form.cleaned_data["parameter_format"],
                actor=_actor(request),
            )
        except NotFound as exc:
            return not_found(request, exc)
        except ParleyError as exc:
            field = "components_json" if exc.field == "components" else exc.field
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, "Template saved: it is back in review.")
            return redirect(f"/templates/{template.graph_id}/")
    return _detail(request, template, form)


@console_view(Capability.MANAGE_TEMPLATES)
@require_POST
def review_template(request: HttpRequest, template_id: str) -> HttpResponse:
    user = staff(request)
    try:
        template = get_template(user.business, template_id)
    except NotFound as exc:
        return not_found(request, exc)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a review decision.")
        return redirect(f"/templates/{template.graph_id}/")
    try:
        template = do_review_template(
            user.business,
            template.graph_id,
            decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
            actor=_actor(request),
        )
    except NotFound as exc:
        return not_found(request, exc)
    except ParleyError as exc:
        messages.error(request, exc.message.removeprefix("(#100) Invalid parameter: "))
    else:
        messages.success(request, f"Template {template.name} is {template.status.lower()}.")
    return redirect(f"/templates/{template.graph_id}/")


@console_view(Capability.MANAGE_TEMPLATES)
@require_POST
def delete_template(request: HttpRequest, template_id: str) -> HttpResponse:
    user = staff(request)
    try:
        template = get_template(user.business, template_id)
        do_delete_templates(
            user.business, name=template.name, template_id=template.graph_id, actor=_actor(request)
        )
    except NotFound as exc:
        return not_found(request, exc)
    messages.success(request, f"Deleted template {template.name} ({template.language}).")
    return redirect("/templates/")
