"""The contact centre's set-up in the console: queues (priority, language, required skills
with a minimum proficiency, numbers, SLA policy, offer timeout, ageing, the default), SLA
policies, routing rules, canned responses (supervisors and administrators: "Watch queues")
and agents' routing profiles: capacity, skills, languages and team ("Manage agent
accounts"). Each form posts to a view that calls one routing action; the action's errors
land on the fields they name. Another business's ids are not found."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from frontend.access import console_view, staff
from frontend.views.common import not_found, page_of, show_error
from parley.accounts.models import PhoneNumber, StaffUser
from parley.accounts.roles import Capability
from parley.accounts.selectors import list_numbers, list_staff
from parley.core.errors import ParleyError
from routing.actions.agents import ROUTED_ROLES, do_update_agent
from routing.actions.setup import (
    do_delete_rule,
    do_save_canned_response,
    do_save_queue,
    do_save_rule,
    do_save_sla_policy,
)
from routing.models import DEFAULT_CAPACITY, Agent, CannedResponse, Queue, RoutingRule, SlaPolicy
from routing.selectors import (
    list_agents,
    list_canned_responses,
    list_queues,
    list_rules,
    list_sla_policies,
)

TABS = [
    ("queues", "Queues", "/routing/"),
    ("sla", "SLA policies", "/routing/sla/"),
    ("rules", "Rules", "/routing/rules/"),
    ("canned", "Canned responses", "/routing/canned/"),
    ("agents", "Agents", "/routing/agents/"),
]
_SKILL = re.compile(r"^(?P<name>[^:]+?)\s*(?::\s*(?P<level>-?[0-9]{1,6}))?$")


# -- fields and forms ------------------------------------------------------------------------


class SkillsField(forms.CharField):
    """Skills as typed: `billing:3, refunds` (a name without a level gets `default_level`).
    The levels' range is the action's to judge."""

    def __init__(self, *, default_level: int, **kwargs: Any) -> None:
        self.default_level = default_level
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> dict[str, int]:
        text = super().clean(value)
        skills: dict[str, int] = {}
        for part in (p.strip() for p in str(text or "").split(",")):
            if not part:
                continue
            match = _SKILL.match(part)
            if match is None:
                raise ValidationError(f"Write skills as name:level, e.g. billing:3 (not {part!r}).")
            level = match.group("level")
            skills[match.group("name").strip()] = int(level) if level else self.default_level
        return skills


def skills_text(levels: dict[str, int]) -> str:
    return ", ".join(f"{name}:{level}" for name, level in sorted(levels.items()))


class QueueForm(forms.Form):
    name = forms.CharField(max_length=200)
    priority = forms.IntegerField(initial=0, help_text="-100 to 100: higher is served first.")
    language = forms.CharField(
        max_length=20, required=False, help_text="A language code (en, hi, pt-br); empty: any."
    )
    skills = SkillsField(
        default_level=1,
        label="Required skills",
        help_text="name:minimum proficiency (1 to 5), separated by commas, e.g. billing:3, "
        "refunds:2.",
    )
    numbers = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Numbers",
        help_text="Conversations on these numbers come to this queue (unless a rule decides).",
    )
    sla_policy = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="SLA policy"
    )
    offer_timeout_s = forms.IntegerField(
        initial=60,
        label="Offer timeout (seconds)",
        help_text="5 to 3600: an offer neither accepted nor answered moves on.",
    )
    escalate_after_s = forms.IntegerField(
        initial=300,
        label="Ageing (seconds)",
        help_text="A session waiting this long gains a priority step; 0: never.",
    )
    max_priority = forms.IntegerField(initial=10, label="Ageing stops at priority")
    is_default = forms.BooleanField(
        required=False, label="Default queue (conversations no rule or number places)"
    )

    def __init__(
        self, *args: Any, numbers: list[PhoneNumber], policies: list[SlaPolicy], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        number_field, policy_field = self.fields["numbers"], self.fields["sla_policy"]
        assert isinstance(number_field, forms.ChoiceField)
        assert isinstance(policy_field, forms.ChoiceField)
        number_field.choices = [(n.pk, f"{n.e164} {n.display_name}") for n in numbers]
        policy_field.choices = [("", "None"), *((p.pk, p.name) for p in policies)]


def queue_initial(queue: Queue) -> dict[str, Any]:
    return {
        "name": queue.name,
        "priority": queue.priority,
        "language": queue.language,
        "skills": skills_text({qs.skill.name: qs.min_proficiency for qs in queue.skills.all()}),
        "numbers": [n.pk for n in queue.numbers.all()],
        "sla_policy": queue.sla_id,
        "offer_timeout_s": queue.offer_timeout_s,
        "escalate_after_s": queue.escalate_after_s,
        "max_priority": queue.max_priority,
        "is_default": queue.is_default,
    }


class SlaForm(forms.Form):
    name = forms.CharField(max_length=200)
    first_response_s = forms.IntegerField(
        initial=30, label="First response within (seconds)", help_text="1 s to 30 days."
    )
    next_response_s = forms.IntegerField(
        initial=24 * 3600,
        label="Next response within (seconds)",
        help_text="A customer's later message unanswered this long is a breach; 1 s to 30 days.",
    )
    resolution_s = forms.IntegerField(
        required=False,
        label="Resolved within (seconds)",
        help_text="Optional: 1 s to 90 days.",
    )


class RuleForm(forms.Form):
    kind = forms.ChoiceField(choices=RoutingRule.Kind.choices, label="When")
    value = forms.CharField(
        max_length=200,
        label="Value",
        help_text="The keyword, the button's payload or title, an ISO country code (IN, BR) "
        "or a number's id.",
    )
    queue = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Queue")
    priority = forms.IntegerField(initial=0, help_text="Added to the queue's: -100 to 100.")
    language = forms.CharField(max_length=8, required=False, help_text="Sets the language.")
    position = forms.IntegerField(
        initial=0, help_text="Rules are tried from the lowest position; the first match wins."
    )

    def __init__(self, *args: Any, queues: list[Queue], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queue = self.fields["queue"]
        assert isinstance(queue, forms.ChoiceField)
        queue.choices = [("", "Keep the queue"), *((q.pk, q.name) for q in queues)]


class CannedForm(forms.Form):
    shortcut = forms.CharField(
        max_length=40, help_text="What agents type after / (letters, digits and dashes)."
    )
    text = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class CannedEditForm(forms.Form):
    text = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class AgentForm(forms.Form):
    capacity = forms.IntegerField(
        initial=DEFAULT_CAPACITY,
        help_text="Conversations held at once (offered and active): 1 to 50.",
    )
    skills = SkillsField(
        default_level=3,
        help_text="name:proficiency (1 to 5), separated by commas, e.g. billing:4, refunds:2.",
    )
    languages = forms.CharField(
        max_length=200, required=False, help_text="Language codes, e.g. en, hi."
    )
    team = forms.CharField(max_length=80, required=False)

    def clean_languages(self) -> list[str]:
        text = self.cleaned_data.get("languages") or ""
        return [code.strip() for code in re.split(r"[,\s]+", text) if code.strip()]


# -- helpers ---------------------------------------------------------------------------------


def _page(request: HttpRequest, template: str, tab: str, context: dict[str, Any]) -> HttpResponse:
    user = staff(request)
    tabs = [
        {"key": key, "label": label, "url": url, "active": key == tab}
        for key, label, url in TABS
        if key != "agents" or user.can(Capability.MANAGE_AGENTS)
    ]
    return render(request, f"frontend/{template}", {"tabs": tabs, **context})


def _queue_form(request: HttpRequest, **kwargs: Any) -> QueueForm:
    user = staff(request)
    return QueueForm(
        request.POST if request.method == "POST" else None,
        numbers=list(list_numbers(user.business)),
        policies=list(list_sla_policies(user.business_id)),
        **kwargs,
    )


def _save_queue(request: HttpRequest, form: QueueForm, queue: Queue | None) -> Queue | None:
    data = form.cleaned_data
    try:
        return do_save_queue(
            staff(request),
            name=data["name"],
            priority=data["priority"],
            language=data["language"],
            skills=data["skills"],
            number_ids=data["numbers"],
            sla_policy_id=data["sla_policy"],
            is_default=data["is_default"],
            offer_timeout_s=data["offer_timeout_s"],
            escalate_after_s=data["escalate_after_s"],
            max_priority=data["max_priority"],
            queue_id=queue.pk if queue else None,
        )
    except ParleyError as exc:
        show_error(form, exc)
        return None


# -- queues ----------------------------------------------------------------------------------


@console_view(Capability.SUPERVISE_QUEUES)
@require_GET
def queues_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    queues = list(list_queues(user.business_id).prefetch_related("skills__skill", "numbers"))
    return _page(request, "routing_queues.html", "queues", {"queues": queues})


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def queue_new(request: HttpRequest) -> HttpResponse:
    form = _queue_form(request)
    if request.method == "POST" and form.is_valid():
        queue = _save_queue(request, form, None)
        if queue is not None:
            messages.success(request, f"Queue {queue.name} created.")
            return redirect("/routing/")
    return _page(request, "routing_queue_form.html", "queues", {"form": form, "queue": None})


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def queue_edit(request: HttpRequest, queue_id: str) -> HttpResponse:
    user = staff(request)
    queue = (
        list_queues(user.business_id)
        .prefetch_related("skills__skill", "numbers")
        .filter(pk=int(queue_id))
        .first()
    )
    if queue is None:
        return not_found(request, ParleyError("No such queue."))
    form = _queue_form(request, initial=queue_initial(queue))
    if request.method == "POST" and form.is_valid():
        saved = _save_queue(request, form, queue)
        if saved is not None:
            messages.success(request, f"Queue {saved.name} saved.")
            return redirect("/routing/")
    return _page(request, "routing_queue_form.html", "queues", {"form": form, "queue": queue})


# -- SLA policies ----------------------------------------------------------------------------


def _save_policy(request: HttpRequest, form: SlaForm, policy: SlaPolicy | None) -> bool:
    data = form.cleaned_data
    try:
        do_save_sla_policy(
            staff(request),
            name=data["name"],
            first_response_s=data["first_response_s"],
            next_response_s=data["next_response_s"],
            resolution_s=data["resolution_s"],
            policy_id=policy.pk if policy else None,
        )
    except ParleyError as exc:
        show_error(form, exc)
        return False
    return True


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def sla_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    form = SlaForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and _save_policy(request, form, None):
        messages.success(request, f"SLA policy {form.cleaned_data['name'].strip()} created.")
        return redirect("/routing/sla/")
    policies = list(list_sla_policies(user.business_id).prefetch_related("queues"))
    return _page(request, "routing_sla.html", "sla", {"form": form, "policies": policies})


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def sla_edit(request: HttpRequest, policy_id: str) -> HttpResponse:
    user = staff(request)
    policy = list_sla_policies(user.business_id).filter(pk=int(policy_id)).first()
    if policy is None:
        return not_found(request, ParleyError("No such SLA policy."))
    initial = {
        "name": policy.name,
        "first_response_s": policy.first_response_s,
        "next_response_s": policy.next_response_s,
        "resolution_s": policy.resolution_s,
    }
    form = SlaForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save_policy(request, form, policy):
        messages.success(request, "SLA policy saved.")
        return redirect("/routing/sla/")
    return _page(request, "routing_sla_form.html", "sla", {"form": form, "policy": policy})


# -- routing rules ---------------------------------------------------------------------------


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def rules_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    queues = list(list_queues(user.business_id))
    form = RuleForm(request.POST if request.method == "POST" else None, queues=queues)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            do_save_rule(
                user,
                kind=data["kind"],
                value=data["value"],
                queue_id=data["queue"],
                priority=data["priority"],
                language=data["language"],
                position=data["position"],
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, "Rule added.")
            return redirect("/routing/rules/")
    rules = list(list_rules(user.business_id))
    return _page(request, "routing_rules.html", "rules", {"form": form, "rules": rules})


@console_view(Capability.SUPERVISE_QUEUES)
@require_POST
def rule_delete(request: HttpRequest, rule_id: str) -> HttpResponse:
    try:
        do_delete_rule(staff(request), int(rule_id))
    except ParleyError as exc:
        return not_found(request, exc)
    messages.success(request, "Rule deleted.")
    return redirect("/routing/rules/")


# -- canned responses ------------------------------------------------------------------------


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def canned_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    form = CannedForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            canned = do_save_canned_response(
                user, shortcut=form.cleaned_data["shortcut"], text=form.cleaned_data["text"]
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, f"Canned response /{canned.shortcut} saved.")
            return redirect("/routing/canned/")
    responses = list(list_canned_responses(user.business_id))
    return _page(request, "routing_canned.html", "canned", {"form": form, "responses": responses})


@console_view(Capability.SUPERVISE_QUEUES)
@require_http_methods(["GET", "POST"])
def canned_edit(request: HttpRequest, canned_id: str) -> HttpResponse:
    user = staff(request)
    canned: CannedResponse | None = (
        list_canned_responses(user.business_id).filter(pk=int(canned_id)).first()
    )
    if canned is None:
        return not_found(request, ParleyError("No such canned response."))
    form = CannedEditForm(
        request.POST if request.method == "POST" else None, initial={"text": canned.text}
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_save_canned_response(user, shortcut=canned.shortcut, text=form.cleaned_data["text"])
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, f"Canned response /{canned.shortcut} saved.")
            return redirect("/routing/canned/")
    return _page(request, "routing_canned_form.html", "canned", {"form": form, "canned": canned})


# -- agents ----------------------------------------------------------------------------------


def _routed_staff(request: HttpRequest) -> QuerySet[StaffUser]:
    """The business's active agents and supervisors: whoever may take conversations."""
    user = staff(request)
    return list_staff(user.business, status="active").filter(role__in=ROUTED_ROLES)


def _skills_of(agent: Agent) -> str:
    return skills_text({s.skill.name: s.proficiency for s in agent.skills.all()})


@console_view(Capability.MANAGE_AGENTS)
@require_GET
def agents_page(request: HttpRequest) -> HttpResponse:
    user = staff(request)
    page = page_of(request, _routed_staff(request))
    profiles = {
        agent.user_id: agent
        for agent in list_agents(user.business_id)
        .filter(user__in=[person.pk for person in page])
        .prefetch_related("skills__skill")
    }
    rows = []
    for person in page:
        agent = profiles.get(person.pk)
        rows.append((person, agent, _skills_of(agent) if agent else ""))
    return _page(request, "routing_agents.html", "agents", {"rows": rows, "page": page})


@console_view(Capability.MANAGE_AGENTS)
@require_http_methods(["GET", "POST"])
def agent_edit(request: HttpRequest, agent_user_id: str) -> HttpResponse:
    person = _routed_staff(request).filter(pk=int(agent_user_id)).first()
    if person is None:
        return not_found(request, ParleyError("No such agent."))
    agent = (
        list_agents(person.business_id)
        .prefetch_related("skills__skill")
        .filter(user=person)
        .first()
    )
    initial: dict[str, Any] = {"capacity": DEFAULT_CAPACITY}
    if agent is not None:
        initial = {
            "capacity": agent.capacity,
            "skills": _skills_of(agent),
            "languages": ", ".join(agent.languages or []),
            "team": agent.team,
        }
    form = AgentForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            do_update_agent(
                staff(request),
                person,
                capacity=data["capacity"],
                languages=data["languages"],
                team=data["team"],
                skills=data["skills"],
            )
        except ParleyError as exc:
            show_error(form, exc)
        else:
            messages.success(request, f"{person.full_name}'s routing profile saved.")
            return redirect("/routing/agents/")
    return _page(
        request,
        "routing_agent_form.html",
        "agents",
        {"form": form, "person": person, "agent": agent},
    )
