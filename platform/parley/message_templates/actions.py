"""Writing templates: create, edit (back to review), delete, and the simulated review that
approves, rejects, pauses, disables or reinstates them. Each action runs in one transaction,
is audited, and publishes `TemplateStatusChanged` for every change of status (the
`message_template_status_update` webhook's source)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import Business, StaffUser
from parley.core import clock
from parley.core.errors import InvalidParameter, NotFound
from parley.core.events import TemplateStatusChanged
from parley.core.publish import publish
from parley.message_templates import rules
from parley.message_templates.errors import DuplicateTemplate, TemplateRuleBroken
from parley.message_templates.models import MessageTemplate

Status = MessageTemplate.Status

# The review's decisions: the statuses each may start from, and the status it leads to.
DECISIONS: dict[str, tuple[frozenset[str], str]] = {
    "APPROVED": (frozenset({Status.PENDING, Status.REJECTED}), Status.APPROVED),
    "REJECTED": (frozenset({Status.PENDING}), Status.REJECTED),
    "PAUSED": (frozenset({Status.APPROVED}), Status.PAUSED),
    "DISABLED": (frozenset({Status.APPROVED, Status.PAUSED}), Status.DISABLED),
    "REINSTATED": (frozenset({Status.PAUSED, Status.DISABLED}), Status.APPROVED),
}
# Meta lets a template be edited only in these statuses.
EDITABLE = frozenset({Status.APPROVED, Status.REJECTED, Status.PAUSED})
MAX_REASON = 200
AUTO_REVIEWER = "simulated review"
_CREATE_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a staff member, or an API token's label; and from where."""

    user: StaffUser | None = None
    label: str = ""
    ip_address: str | None = None

    @property
    def name(self) -> str:
        return self.label or (self.user.email if self.user else "system")


SYSTEM = Actor(label=AUTO_REVIEWER)


def auto_approve_delay() -> dt.timedelta | None:
    """How long after submission the simulated review approves a pending template by
    itself (PARLEY["TEMPLATE_AUTO_APPROVE_SECONDS"]; 0 or less: never)."""
    seconds = float(settings.PARLEY.get("TEMPLATE_AUTO_APPROVE_SECONDS", 0) or 0)
    return dt.timedelta(seconds=seconds) if seconds > 0 else None


def _checked(category: str, parameter_format: str, components: Any) -> list[dict[str, Any]]:
    try:
        return rules.check_components(category, parameter_format, components)
    except rules.RuleError as exc:
        raise TemplateRuleBroken(
            f"(#100) Invalid parameter: {exc.message}", subcode=exc.subcode
        ) from None


def _rule(fn: Any, value: Any, field: str) -> Any:
    try:
        return fn(value)
    except rules.RuleError as exc:
        raise InvalidParameter(f"(#100) Invalid parameter: {exc.message}", field=field) from None


def _audit(template: MessageTemplate, action: str, actor: Actor, **details: Any) -> None:
    do_record_audit(
        action,
        business_id=template.business_id,
        actor=actor.user,
        actor_label=actor.label,
        target=f"template {template.name} ({template.language})",
        details={"template_id": str(template.graph_id), **details},
        ip_address=actor.ip_address,
    )


def _announce(template: MessageTemplate, *, previous: str, event: str, reason: str) -> None:
    publish(
        TemplateStatusChanged(
            business_id=template.business_id,
            occurred_at=clock.now(),
            template_id=str(template.graph_id),
            template_name=template.name,
            language=template.language,
            status=template.status,
            previous_status=previous,
            reason=reason,
            event=event,
            category=template.category,
        )
    )


def _duplicate(name: str, language: str) -> DuplicateTemplate:
    return DuplicateTemplate(
        "(#100) Invalid parameter: Content in this language already exists: the template "
        f"{name!r} already has {language} content. Edit it, or choose another name or language.",
        field="language",
    )


def _submitted(template: MessageTemplate, now: dt.datetime) -> None:
    """Put the template (back) in review."""
    delay = auto_approve_delay()
    template.status = Status.PENDING
    template.rejected_reason = "NONE"
    template.status_reason = ""
    template.status_changed_at = now
    template.review_due_at = now + delay if delay is not None else None


def do_create_template(
    business: Business,
    *,
    name: str,
    language: str,
    category: str,
    components: Any,
    parameter_format: str = "POSITIONAL",
    actor: Actor = SYSTEM,
) -> MessageTemplate:
    """A new template, PENDING review. Duplicate name and language: code 100, 2388024."""
    name = _rule(rules.check_name, name, "name")
    language = _rule(rules.check_language, language, "language")
    normalised = _checked(category, parameter_format, components)
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with transaction.atomic():
                if MessageTemplate.objects.filter(
                    business=business, name=name, language=language
                ).exists():
                    raise _duplicate(name, language)
                now = clock.now()
                template = MessageTemplate(
                    business=business,
                    name=name,
                    language=language,
                    category=category,
                    parameter_format=parameter_format,
                    components=normalised,
                    created_at=now,
                    updated_at=now,
                )
                _submitted(template, now)
                template.save(force_insert=True)
                _audit(template, "template.created", actor, category=category)
                _announce(template, previous="", event="PENDING", reason="NONE")
                return template
        except IntegrityError:
            # Either a concurrent create of the same name and language, or (once in an age)
            # a Graph id drawn twice: the first is the caller's error, the second a retry.
            if MessageTemplate.objects.filter(
                business=business, name=name, language=language
            ).exists():
                raise _duplicate(name, language) from None
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _locked(business: Business, template_id: str | int) -> MessageTemplate:
    raw = str(template_id)
    template = (
        MessageTemplate.objects.select_for_update()
        .filter(business=business, graph_id=int(raw) if raw.isascii() and raw.isdigit() else -1)
        .first()
    )
    if template is None:
        raise NotFound(
            f"Unsupported request - object '{raw[:40]}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation."
        )
    return template


def do_edit_template(
    business: Business,
    template_id: str | int,
    *,
    components: Any = None,
    category: str | None = None,
    parameter_format: str | None = None,
    actor: Actor = SYSTEM,
) -> MessageTemplate:
    """Change a template's components and/or category; it goes back to review (PENDING), as
    on the Cloud API. Only APPROVED, REJECTED or PAUSED templates can be edited, and an
    approved template keeps its category."""
    if components is None and category is None and parameter_format is None:
        raise InvalidParameter(
            "(#100) Invalid parameter: give components and/or category to edit.",
            field="components",
        )
    with transaction.atomic():
        template = _locked(business, template_id)
        if template.status not in EDITABLE:
            raise InvalidParameter(
                f"(#100) Invalid parameter: a {template.status} template cannot be edited; only "
                "APPROVED, REJECTED or PAUSED templates can.",
                field="components",
            )
        new_category = category if category is not None else template.category
        if new_category != template.category and template.status == Status.APPROVED:
            raise InvalidParameter(
                "(#100) Invalid parameter: the category of an APPROVED template cannot be changed.",
                field="category",
            )
        new_format = parameter_format or template.parameter_format
        normalised = _checked(
            new_category, new_format, components if components is not None else template.components
        )
        previous = template.status
        now = clock.now()
        template.category = new_category
        template.parameter_format = new_format
        template.components = normalised
        template.updated_at = now
        _submitted(template, now)
        template.save()
        _audit(template, "template.edited", actor, previous_status=previous, category=new_category)
        _announce(template, previous=previous, event="PENDING", reason="NONE")
    return template


def do_delete_templates(
    business: Business, *, name: str, template_id: str | int | None = None, actor: Actor = SYSTEM
) -> int:
    """Delete every language of the template `name`, or only the one with `template_id`
    (which must carry that name). Returns how many were deleted; none is a NotFound."""
    with transaction.atomic():
        qs = MessageTemplate.objects.select_for_update().filter(business=business, name=name)
        if template_id is not None:
            raw = str(template_id)
            qs = qs.filter(graph_id=int(raw) if raw.isascii() and raw.isdigit() else -1)
        doomed = list(qs.order_by("id"))
        if not doomed:
            raise NotFound(
                f"Message template not found: no template named {name[:100]!r}"
                + (f" with id {str(template_id)[:20]}" if template_id is not None else "")
                + "."
            )
        for template in doomed:
            previous = template.status
            _audit(template, "template.deleted", actor, status=previous)
            template.status = "DELETED"
            _announce(template, previous=previous, event="DELETED", reason="NONE")
        MessageTemplate.objects.filter(pk__in=[t.pk for t in doomed]).delete()
    return len(doomed)


def _review_reason(decision: str, reason: str) -> str:
    reason = (reason or "").strip()
    if decision == "REJECTED":
        if reason not in rules.REJECTION_REASONS:
            raise InvalidParameter(
                "(#100) Invalid parameter: a rejection needs a reason, one of "
                + ", ".join(rules.REJECTION_REASONS)
                + ".",
                field="reason",
            )
        return reason
    if len(reason) > MAX_REASON:
        raise InvalidParameter(
            f"(#100) Invalid parameter: reason is longer than {MAX_REASON} characters.",
            field="reason",
        )
    return reason or "NONE"


def _apply(template: MessageTemplate, decision: str, reason: str, actor: Actor) -> None:
    """Move a locked template by a review decision (checked by the caller)."""
    previous = template.status
    now = clock.now()
    template.status = DECISIONS[decision][1]
    template.rejected_reason = reason if decision == "REJECTED" else "NONE"
    template.status_reason = "" if reason == "NONE" else reason
    template.status_changed_at = now
    template.review_due_at = None
    template.save(
        update_fields=[
            "status",
            "rejected_reason",
            "status_reason",
            "status_changed_at",
            "review_due_at",
        ]
    )
    _audit(template, "template.reviewed", actor, decision=decision, previous_status=previous,
           reason=reason)  # fmt: skip
    _announce(template, previous=previous, event=decision, reason=reason)


def do_review_template(
    business: Business,
    template_id: str | int,
    *,
    decision: str,
    reason: str = "",
    actor: Actor = SYSTEM,
) -> MessageTemplate:
    """The simulated review: APPROVED or REJECTED (with one of Meta's rejection reasons) for
    a pending template, PAUSED or DISABLED for an approved one, REINSTATED for a paused or
    disabled one (it is APPROVED again)."""
    if decision not in DECISIONS:
        raise InvalidParameter(
            "(#100) Invalid parameter: status must be one of " + ", ".join(DECISIONS) + ".",
            field="status",
        )
    clean_reason = _review_reason(decision, reason)
    with transaction.atomic():
        template = _locked(business, template_id)
        allowed, _ = DECISIONS[decision]
        if template.status not in allowed:
            raise InvalidParameter(
                f"(#100) Invalid parameter: a {template.status} template cannot be "
                f"{decision.lower()}; {decision} applies to "
                + " or ".join(sorted(allowed))
                + " templates.",
                field="status",
            )
        _apply(template, decision, clean_reason, actor)
    return template


def do_approve_due_templates(limit: int = 500) -> int:
    """The simulated review's own pace: approve every pending template whose review fell due
    by the simulation clock. Idempotent; returns how many it approved."""
    approved = 0
    while True:
        with transaction.atomic():
            batch = list(
                MessageTemplate.objects.select_for_update(skip_locked=True)
                .filter(status=Status.PENDING, review_due_at__lte=clock.now())
                .order_by("review_due_at", "id")[:limit]
            )
            for template in batch:
                _apply(template, "APPROVED", "NONE", SYSTEM)
        approved += len(batch)
        if len(batch) < limit:
            return approved
