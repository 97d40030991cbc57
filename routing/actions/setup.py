"""The contact centre's set-up, by supervisors and administrators: queues (skills, language,
priority, numbers, SLA policy, offer timeout, ageing), SLA policies, routing rules and
canned responses; and the private notes staff leave on conversations. Every change to the
set-up is audited."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import PhoneNumber, StaffUser
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter, NotFound
from parley.messaging.models import Conversation
from routing.models import (
    CannedResponse,
    Note,
    Queue,
    QueueSkill,
    RoutingRule,
    Skill,
    SlaPolicy,
)


def _name(raw: str, field: str = "name", limit: int = 80) -> str:
    name = (raw or "").strip()
    if not name:
        raise InvalidParameter("A name is required.", field=field)
    if len(name) > limit:
        raise InvalidParameter(f"The name is longer than {limit} characters.", field=field)
    return name


def do_save_sla_policy(
    actor: StaffUser,
    *,
    name: str,
    first_response_s: int,
    next_response_s: int = 24 * 3600,
    resolution_s: int | None = None,
    policy_id: int | None = None,
) -> SlaPolicy:
    for field, value in (("first_response_s", first_response_s),
                         ("next_response_s", next_response_s)):  # fmt: skip
        if not 1 <= value <= 30 * 86400:
            raise InvalidParameter("Targets are 1 s to 30 days.", field=field)
    if resolution_s is not None and not 1 <= resolution_s <= 90 * 86400:
        raise InvalidParameter("The resolution target is 1 s to 90 days.", field="resolution_s")
    with transaction.atomic():
        if policy_id is None:
            policy = SlaPolicy(business_id=actor.business_id)
        else:
            found = SlaPolicy.objects.filter(pk=policy_id, business_id=actor.business_id).first()
            if found is None:
                raise NotFound("No such SLA policy.")
            policy = found
        policy.name = _name(name)
        policy.first_response_s = first_response_s
        policy.next_response_s = next_response_s
        policy.resolution_s = resolution_s
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError as exc:
            raise Conflict("An SLA policy of that name exists.", field="name") from exc
        targets = {"first_response_s": first_response_s, "next_response_s": next_response_s,
                   "resolution_s": resolution_s}  # fmt: skip
        do_record_audit("routing.sla_saved", business_id=actor.business_id, actor=actor,
                        target=policy.name, details=targets)  # fmt: skip
    return policy


def do_save_queue(
    actor: StaffUser,
    *,
    name: str,
    priority: int = 0,
    language: str = "",
    skills: dict[str, int] | None = None,
    number_ids: list[int] | None = None,
    sla_policy_id: int | None = None,
    is_default: bool = False,
    offer_timeout_s: int = 60,
    escalate_after_s: int = 300,
    max_priority: int = 10,
    queue_id: int | None = None,
) -> Queue:
    """Create or change a queue. `skills` maps skill names to the minimum proficiency."""
    if not -100 <= priority <= 100 or not -100 <= max_priority <= 100:
        raise InvalidParameter("Priorities are -100 to 100.", field="priority")
    if not 5 <= offer_timeout_s <= 3600:
        raise InvalidParameter("The offer timeout is 5 s to 1 hour.", field="offer_timeout_s")
    if not 0 <= escalate_after_s <= 7 * 86400:
        raise InvalidParameter("Ageing is 0 (off) to 7 days.", field="escalate_after_s")
    language = (language or "").strip().lower()
    if language and not (2 <= len(language) <= 8 and language.replace("-", "").isalpha()):
        raise InvalidParameter(f"{language!r} is not a language code.", field="language")
    clean_skills: dict[str, int] = {}
    for raw, minimum in (skills or {}).items():
        slug = slugify(str(raw))[:40]
        if not slug or isinstance(minimum, bool) or not isinstance(minimum, int) \
                or not 1 <= minimum <= 5:  # fmt: skip
            raise InvalidParameter(f"Skill {raw!r} needs a minimum of 1 to 5.", field="skills")
        clean_skills[slug] = minimum
    with transaction.atomic():
        if queue_id is None:
            queue = Queue(business_id=actor.business_id, created_at=clock.now())
        else:
            found = Queue.objects.filter(pk=queue_id, business_id=actor.business_id).first()
            if found is None:
                raise NotFound("No such queue.")
            queue = found
        if (
            sla_policy_id is not None
            and not SlaPolicy.objects.filter(
                pk=sla_policy_id, business_id=actor.business_id
            ).exists()
        ):
            raise InvalidParameter("No such SLA policy.", field="sla_policy")
        numbers = list(
            PhoneNumber.objects.filter(business_id=actor.business_id, pk__in=number_ids or [])
        )
        if number_ids and len(numbers) != len(set(number_ids)):
            raise InvalidParameter("No such number.", field="numbers")
        queue.name = _name(name)
        queue.priority = priority
        queue.language = language
        queue.sla_id = sla_policy_id
        queue.offer_timeout_s = offer_timeout_s
        queue.escalate_after_s = escalate_after_s
        queue.max_priority = max_priority
        if is_default:
            Queue.objects.filter(business_id=actor.business_id, is_default=True).exclude(
                pk=queue.pk
            ).update(is_default=False)
        queue.is_default = is_default
        try:
            with transaction.atomic():
                queue.save()
        except IntegrityError as exc:
            raise Conflict("A queue of that name exists.", field="name") from exc
        queue.numbers.set(numbers)
        QueueSkill.objects.filter(queue=queue).delete()
        for slug, minimum in clean_skills.items():
            skill, _ = Skill.objects.get_or_create(business_id=actor.business_id, name=slug)
            QueueSkill.objects.create(queue=queue, skill=skill, min_proficiency=minimum)
        do_record_audit("routing.queue_saved", business_id=actor.business_id, actor=actor,
                        target=queue.name, details={"priority": priority, "language": language,
                        "skills": clean_skills, "numbers": [n.pk for n in numbers],
                        "sla_policy": sla_policy_id})  # fmt: skip
    return queue


def do_save_rule(
    actor: StaffUser,
    *,
    kind: str,
    value: str,
    queue_id: int | None = None,
    priority: int = 0,
    language: str = "",
    position: int = 0,
) -> RoutingRule:
    if kind not in RoutingRule.Kind.values:
        raise InvalidParameter(f"Unknown rule kind {kind!r}.", field="kind")
    value = (value or "").strip()
    if not value or len(value) > 100:
        raise InvalidParameter("A rule needs a value of at most 100 characters.", field="value")
    if not -100 <= priority <= 100:
        raise InvalidParameter("Priorities are -100 to 100.", field="priority")
    if not 0 <= position <= 1_000_000:
        raise InvalidParameter("The position is 0 to 1000000.", field="position")
    with transaction.atomic():
        if (
            queue_id is not None
            and not Queue.objects.filter(pk=queue_id, business_id=actor.business_id).exists()
        ):
            raise InvalidParameter("No such queue.", field="queue")
        rule = RoutingRule.objects.create(
            business_id=actor.business_id, kind=kind, value=value, queue_id=queue_id,
            priority=priority, language=(language or "").strip().lower()[:8], position=position,
        )  # fmt: skip
        do_record_audit("routing.rule_saved", business_id=actor.business_id, actor=actor,
                        target=f"{kind}:{value}", details={"queue": queue_id})  # fmt: skip
    return rule


def do_delete_rule(actor: StaffUser, rule_id: int) -> None:
    with transaction.atomic():
        deleted, _ = RoutingRule.objects.filter(pk=rule_id, business_id=actor.business_id).delete()
        if not deleted:
            raise NotFound("No such rule.")
        do_record_audit("routing.rule_deleted", business_id=actor.business_id, actor=actor,
                        target=str(rule_id))  # fmt: skip


def do_save_canned_response(actor: StaffUser, *, shortcut: str, text: str) -> CannedResponse:
    slug = slugify(shortcut)[:40]
    if not slug:
        raise InvalidParameter("A shortcut is required.", field="shortcut")
    text = (text or "").strip()
    if not text or len(text) > 4096:
        raise InvalidParameter("The text is 1 to 4096 characters.", field="text")
    with transaction.atomic():
        canned, created = CannedResponse.objects.update_or_create(
            business_id=actor.business_id, shortcut=slug, defaults={"text": text}
        )
        do_record_audit("routing.canned_saved", business_id=actor.business_id, actor=actor,
                        target=f"/{slug}", details={"created": created})  # fmt: skip
    return canned


def do_add_note(actor: StaffUser, conversation_id: int, text: str) -> Note:
    """A private note: staff only, never sent to the customer."""
    text = (text or "").strip()
    if not text:
        raise InvalidParameter("The note is empty.", field="text")
    if len(text) > 4000:
        raise InvalidParameter("The note is longer than 4000 characters.", field="text")
    with transaction.atomic():
        if not Conversation.objects.filter(
            pk=conversation_id, business_id=actor.business_id
        ).exists():
            raise NotFound("No such conversation.")
        return Note.objects.create(
            business_id=actor.business_id, conversation_id=conversation_id, author=actor,
            text=text, created_at=clock.now(),
        )  # fmt: skip
