"""Reading templates: always within one business (another business's template is as absent
as an unknown one)."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, QuerySet

from parley.accounts.models import Business
from parley.core.errors import NotFound
from parley.message_templates.models import MessageTemplate

_ID = re.compile(r"[0-9]{1,18}", re.ASCII)


def list_templates(
    business: Business,
    *,
    name: str = "",
    status: str = "",
    category: str = "",
    language: str = "",
) -> QuerySet[MessageTemplate]:
    """The business's templates, oldest first; `name` matches part of the name."""
    qs = MessageTemplate.objects.filter(business=business)
    if name:
        qs = qs.filter(name__contains=name)
    if status:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("id")


def find_template(business: Business, template_id: str | int) -> MessageTemplate | None:
    """The business's template with this Graph id, or None."""
    raw = str(template_id)
    if not _ID.fullmatch(raw):
        return None
    return MessageTemplate.objects.filter(business=business, graph_id=int(raw)).first()


def get_template(business: Business, template_id: str | int) -> MessageTemplate:
    template = find_template(business, template_id)
    if template is None:
        raise NotFound(
            f"Unsupported request - object '{str(template_id)[:40]}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation."
        )
    return template


def get_template_by_name(business: Business, name: str, language: str) -> MessageTemplate | None:
    return MessageTemplate.objects.filter(business=business, name=name, language=language).first()


def count_by_status(business: Business) -> dict[str, int]:
    counts = {s.value: 0 for s in MessageTemplate.Status}
    rows = (
        MessageTemplate.objects.filter(business=business)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


# Templates a business may hold (Meta: 250 for a business portfolio that is not verified).
TEMPLATE_LIMIT = 250


def template_summary(business: Business, matching: QuerySet[MessageTemplate]) -> dict[str, Any]:
    """The Graph API's `summary` of a template list: how many match, how many the business
    holds and may hold, and whether every name exists in every language it uses."""
    names: dict[str, set[str]] = {}
    for name, language in MessageTemplate.objects.filter(business=business).values_list(
        "name", "language"
    ):
        names.setdefault(name, set()).add(language)
    languages = set().union(*names.values()) if names else set()
    return {
        "total_count": matching.count(),
        "message_template_count": sum(len(v) for v in names.values()),
        "message_template_limit": TEMPLATE_LIMIT,
        "are_translations_complete": all(v == languages for v in names.values()),
    }
