"""Reading message facts from a JSON Lines file: one object per line with the fields of
`billing.engine.MessageFact` (times in ISO 8601 with a zone)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any

from billing.engine import (
    BillingError,
    Channel,
    Content,
    Direction,
    MessageFact,
    Suggestions,
    WaCategory,
    country_of,
    normalise_category,
)
from parley.core.errors import InvalidParameter


def _time(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone")
    return moment


def fact_from_json(data: dict[str, Any], business_id: int) -> MessageFact:
    """A fact from a facts-file line (or any mapping of the same fields, such as a
    delivery event); times may be ISO strings or aware datetimes."""
    delivered = data.get("delivered_at")
    template = data.get("template_category")
    return MessageFact(
        message_id=str(data["message_id"]),
        business_id=str(business_id),
        agent_id=str(data["agent_id"]),
        agent_category=normalise_category(data["agent_category"]),
        customer=str(data["customer"]),
        direction=Direction(data["direction"]),
        content=Content(data["content"]),
        sent_at=_time(data["sent_at"], "sent_at"),
        delivered_at=_time(delivered, "delivered_at") if delivered else None,
        channel=Channel(data.get("channel", "RCS")),
        expired=bool(data.get("expired", False)),
        text_bytes=int(data.get("text_bytes", 0)),
        suggestions=Suggestions(data.get("suggestions", "none")),
        url_preview=bool(data.get("url_preview", False)),
        template_category=WaCategory(template) if template else None,
        size_bytes=int(data.get("size_bytes", 0)),
        entry_point=data.get("entry_point", False) is True,
    )


def read_facts(lines: Iterable[str], business_id: int) -> Iterator[MessageFact]:
    """Parse every line; the first bad line stops the load with its number and reason."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            fact = fact_from_json(data, business_id)
            country_of(fact.customer)  # an unknown country stops the load here, with its line
            yield fact
        except KeyError as exc:
            raise InvalidParameter(f"line {number}: missing field {exc}") from exc
        except (ValueError, TypeError, BillingError) as exc:
            raise InvalidParameter(f"line {number}: {exc}") from exc


def fact_to_json(fact: MessageFact) -> dict[str, Any]:
    return {
        "message_id": fact.message_id,
        "agent_id": fact.agent_id,
        "agent_category": fact.agent_category.value,
        "customer": fact.customer,
        "direction": fact.direction.value,
        "content": fact.content.value,
        "channel": fact.channel.value,
        "sent_at": fact.sent_at.isoformat(),
        "delivered_at": fact.delivered_at.isoformat() if fact.delivered_at else None,
        "expired": fact.expired,
        "text_bytes": fact.text_bytes,
        "size_bytes": fact.size_bytes,
        "suggestions": fact.suggestions.value,
        "url_preview": fact.url_preview,
        "template_category": fact.template_category.value if fact.template_category else None,
        "entry_point": fact.entry_point,
    }
