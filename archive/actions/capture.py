"""Capture: the archive consumer's batch of stream events becomes WARC records.

A message (inbound, or outbound at its first status) is a `resource` record; later facts
about it or its conversation (status changes, routing, legal holds) are `metadata` records
that refer back. Record ids derive from what they record, so a batch delivered twice
writes each record once (the index's unique record id)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from archive.models import ArchiveFile, ArchiveRecord, ConversationAgent, RetentionPolicy
from archive.retention import DEFAULT_PRESET, PRESETS, period_of
from archive.warc.records import RecordSpec, encode_record, record_id_for
from parley.core import bulk
from parley.core.events import (
    Event,
    LegalHoldChanged,
    MessageReceived,
    MessageStatusChanged,
    SessionRouted,
)
from parley.messaging.content import ContentError, parse_content
from parley.messaging.models import Message

OUTBOUND = "outbound"
MAX_TEXT = 4096
RECORD_COLUMNS = (
    "business_id", "file_id", "seq", "record_id", "kind", "fact", "target_uri", "refers_to",
    "message_id", "conversation_id", "number_id", "customer", "agent_user_id", "direction",
    "occurred_at", "text", "digest", "member", "length",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Fact:
    """One record to write, with the index fields search needs."""

    business_id: int
    spec: RecordSpec
    fact: str
    number_id: int | None = None
    message_id: str = ""
    conversation_id: int | None = None
    customer: str = ""
    agent_user_id: int | None = None
    direction: str = ""
    text: str = ""


def message_record_id(wamid: str) -> str:
    return record_id_for("message", wamid)


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str).encode()


def _text_of(content: Any) -> str:
    try:
        return parse_content(content).preview()[:MAX_TEXT]
    except (ContentError, TypeError, KeyError, ValueError):
        return ""


def _message_fact(
    *,
    business_id: int,
    wamid: str,
    direction: str,
    conversation_id: int,
    number_id: int,
    customer: str,
    content_type: str,
    content: Any,
    reply_to: str,
    status: str,
    at: dt.datetime,
    agent_user_id: int | None,
) -> Fact:
    text = _text_of(content)
    payload = {
        "record": "message",
        "message_id": wamid,
        "direction": direction,
        "business_id": business_id,
        "number_id": number_id,
        "customer": customer,
        "conversation_id": conversation_id,
        "agent_user_id": agent_user_id,
        "type": content_type,
        "content": content,
        "reply_to": reply_to,
        "status": status,
        "timestamp": at.isoformat(),
    }
    spec = RecordSpec(
        record_id=message_record_id(wamid),
        kind="resource",
        target_uri=f"urn:parley:message:{wamid}",
        date=at,
        payload=_json(payload),
        extra=(("WARC-Parley-Business", str(business_id)),),
    )
    return Fact(
        business_id, spec, "message", number_id, wamid, conversation_id, customer,
        agent_user_id, direction, text,
    )  # fmt: skip


def _metadata_fact(
    event: Event,
    *,
    fact: str,
    key: Sequence[str],
    target_uri: str,
    refers_to: str = "",
    data: dict[str, Any],
    **index: Any,
) -> Fact:
    payload = {"record": fact, "event": event.name, "timestamp": event.occurred_at.isoformat()}
    payload.update(data)
    spec = RecordSpec(
        record_id=record_id_for(fact, *key),
        kind="metadata",
        target_uri=target_uri,
        date=event.occurred_at,
        payload=_json(payload),
        refers_to=refers_to,
        extra=(("WARC-Parley-Business", str(event.business_id)),),
    )
    return Fact(event.business_id, spec, fact, **index)


class Capture:
    """Turns one batch of events into facts; knows each conversation's agent."""

    def __init__(self, events: Sequence[Event]) -> None:
        conversations = {
            c for e in events if (c := getattr(e, "conversation_id", None)) is not None
        }
        self.agents: dict[int, int | None] = dict(
            ConversationAgent.objects.filter(conversation_id__in=conversations).values_list(
                "conversation_id", "agent_user_id"
            )
        )
        self.agent_changes: dict[int, tuple[int, int | None]] = {}
        first_outbound = [
            e.message_id
            for e in events
            if isinstance(e, MessageStatusChanged)
            and e.direction == OUTBOUND
            and not e.previous_status
        ]
        self.outbound = {
            m["wamid"]: m
            for m in Message.objects.filter(wamid__in=first_outbound).values(
                "wamid", "content_type", "content", "reply_to"
            )
        }

    def facts(self, event: Event) -> Iterable[Fact]:
        if isinstance(event, MessageReceived):
            try:
                content = json.loads(event.content_json)
            except ValueError:
                content = {"type": event.content_type, "preview": event.text}
            yield _message_fact(
                business_id=event.business_id, wamid=event.message_id, direction="inbound",
                conversation_id=event.conversation_id, number_id=event.number_id,
                customer=event.customer, content_type=event.content_type, content=content,
                reply_to=event.reply_to, status="received", at=event.occurred_at,
                agent_user_id=self.agents.get(event.conversation_id),
            )  # fmt: skip
        elif isinstance(event, MessageStatusChanged):
            yield from self._status(event)
        elif isinstance(event, SessionRouted):
            agent = event.agent_user_id if event.state in ("offered", "active") else None
            self.agents[event.conversation_id] = agent
            self.agent_changes[event.conversation_id] = (event.business_id, agent)
            yield _metadata_fact(
                event, fact="routing",
                key=(str(event.session_id), event.change, event.occurred_at.isoformat()),
                target_uri=f"urn:parley:conversation:{event.conversation_id}",
                data={
                    "session_id": event.session_id, "conversation_id": event.conversation_id,
                    "customer": event.customer, "queue": event.queue, "state": event.state,
                    "change": event.change, "agent_user_id": event.agent_user_id,
                    "previous_agent_user_id": event.previous_agent_user_id,
                    "reason": event.reason,
                },
                conversation_id=event.conversation_id, customer=event.customer,
                agent_user_id=event.agent_user_id,
            )  # fmt: skip
        elif isinstance(event, LegalHoldChanged):
            yield _metadata_fact(
                event, fact="hold", key=(str(event.hold_id), event.change),
                target_uri=f"urn:parley:hold:{event.hold_id}",
                data={
                    "hold_id": event.hold_id, "name": event.hold_name, "change": event.change,
                    "scope": event.scope, "criteria": json.loads(event.criteria_json or "{}"),
                    "actor": event.actor, "reason": event.reason,
                },
                text=f"{event.hold_name} {event.reason}".strip(),
            )  # fmt: skip

    def _status(self, event: MessageStatusChanged) -> Iterable[Fact]:
        agent = self.agents.get(event.conversation_id)
        if event.direction == OUTBOUND and not event.previous_status:
            message = self.outbound.get(event.message_id)
            content = message["content"] if message else {}
            yield _message_fact(
                business_id=event.business_id, wamid=event.message_id, direction=OUTBOUND,
                conversation_id=event.conversation_id, number_id=event.number_id,
                customer=event.customer,
                content_type=message["content_type"] if message else "",
                content=content, reply_to=message["reply_to"] if message else "",
                status=event.status, at=event.occurred_at, agent_user_id=agent,
            )  # fmt: skip
            return
        data: dict[str, Any] = {
            "message_id": event.message_id,
            "status": event.status,
            "previous_status": event.previous_status,
            "direction": event.direction,
        }
        if event.error_code is not None:
            data["errors"] = [{"code": event.error_code, "title": event.error_title}]
        yield _metadata_fact(
            event, fact="status", key=(event.message_id, event.status),
            target_uri=f"urn:parley:message:{event.message_id}",
            refers_to=message_record_id(event.message_id), data=data,
            number_id=event.number_id, message_id=event.message_id,
            conversation_id=event.conversation_id, customer=event.customer,
            agent_user_id=agent, direction=event.direction,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Policy:
    retention_class: str
    mode: str
    years: int
    days: int
    policy_id: int | None = None


DEFAULT_POLICY = Policy(
    f"{DEFAULT_PRESET}-compliance-{PRESETS[DEFAULT_PRESET].years}y0d",
    "COMPLIANCE",
    PRESETS[DEFAULT_PRESET].years,
    0,
)


def policies_of(business_ids: Iterable[int]) -> dict[tuple[int, int | None], Policy]:
    """Each business's policies, keyed (business, number or None for the default)."""
    return {
        (p.business_id, p.number_id): Policy(p.retention_class, p.mode, p.years, p.days, p.pk)
        for p in RetentionPolicy.objects.filter(business_id__in=set(business_ids))
    }


def policy_for(
    policies: dict[tuple[int, int | None], Policy], business_id: int, number_id: int | None
) -> Policy:
    return (
        policies.get((business_id, number_id))
        or policies.get((business_id, None))
        or DEFAULT_POLICY
    )


def _open_file(business_id: int, policy: Policy, period: str, now: dt.datetime) -> ArchiveFile:
    group = ArchiveFile.objects.select_for_update().filter(
        business_id=business_id,
        retention_class=policy.retention_class,
        period=period,
        state=ArchiveFile.State.OPEN,
    )
    found = group.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():  # a savepoint: another writer may open it first
            return _new_file(business_id, policy, period, now)
    except IntegrityError:
        return group.get()  # the one the other writer opened (one open file a group)


def _new_file(business_id: int, policy: Policy, period: str, now: dt.datetime) -> ArchiveFile:
    # Unique across installations too: two archives never write the same key.
    stamp = f"{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
    return ArchiveFile.objects.create(
        business_id=business_id,
        retention_class=policy.retention_class,
        policy_id=policy.policy_id,
        mode=policy.mode,
        retention_years=policy.years,
        retention_days=policy.days,
        period=period,
        name=f"b{business_id}/{policy.retention_class}/{period}/parley-{business_id}-{stamp}.warc.gz",
        opened_at=now,
    )


def do_capture(events: Sequence[Event], *, now: dt.datetime) -> list[int]:
    """Write the records of a batch of events into their open files; returns the ids of
    files that grew past the size bound (for the caller to close)."""
    capture = Capture(events)
    facts = [f for e in events for f in capture.facts(e)]
    with transaction.atomic():
        for conversation_id, (business_id, agent) in capture.agent_changes.items():
            ConversationAgent.objects.update_or_create(
                conversation_id=conversation_id,
                defaults={"business_id": business_id, "agent_user_id": agent},
            )
        if not facts:
            return []
        known = set(
            ArchiveRecord.objects.filter(
                record_id__in=[f.spec.record_id for f in facts]
            ).values_list("record_id", flat=True)
        )
        fresh: dict[str, Fact] = {}
        for f in facts:
            if f.spec.record_id not in known:
                fresh.setdefault(f.spec.record_id, f)
        policies = policies_of(f.business_id for f in fresh.values())
        files: dict[tuple[int, str, str], ArchiveFile] = {}
        rows: list[tuple[Any, ...]] = []
        for f in fresh.values():
            policy = policy_for(policies, f.business_id, f.number_id)
            group = (f.business_id, policy.retention_class, period_of(f.spec.date))
            file = files.get(group)
            if file is None:
                file = files[group] = _open_file(f.business_id, policy, group[2], now)
            encoded = encode_record(f.spec)
            file.record_count += 1
            file.pending_bytes += encoded.length
            if file.last_record_at is None or f.spec.date > file.last_record_at:
                file.last_record_at = f.spec.date
            rows.append(
                (
                    f.business_id, file.pk, file.record_count, f.spec.record_id,
                    f.spec.kind, f.fact, f.spec.target_uri, f.spec.refers_to, f.message_id,
                    f.conversation_id, f.number_id, f.customer, f.agent_user_id,
                    f.direction, f.spec.date, f.text, encoded.block_digest, encoded.member,
                    encoded.length,
                )
            )  # fmt: skip
        bulk.insert_rows(ArchiveRecord, RECORD_COLUMNS, rows)
        for file in files.values():
            file.save(update_fields=["record_count", "pending_bytes", "last_record_at"])
    limit = int(settings.PARLEY["ARCHIVE_FILE_MAX_BYTES"])
    return [f.pk for f in files.values() if f.pending_bytes >= limit]
