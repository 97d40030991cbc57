"""Reads of the fleet's state and of each phone's own message history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from e2ee.client.state import HistoryItem
from e2ee.handsets.models import FleetHandset, HandsetMessage, HandsetTyping, PendingRead
from e2ee.models import LocalDevice
from parley.core import clock


def list_fleet_handsets() -> list[FleetHandset]:
    return list(FleetHandset.objects.select_related("device").order_by("device__e164"))


def get_fleet_handset(e164: str) -> FleetHandset | None:
    return (
        FleetHandset.objects.select_related("device")
        .filter(device__e164=e164, device__device_id=1)
        .first()
    )


@dataclass(frozen=True)
class DueRead:
    id: int
    handset_pk: int
    guid: str


def list_due_reads(limit: int = 500) -> list[DueRead]:
    """Read receipts whose time (simulated) has come, oldest first."""
    rows = PendingRead.objects.filter(due_at__lte=clock.now()).order_by("due_at", "id")
    return [DueRead(r.pk, r.handset_id, r.guid) for r in rows[:limit]]


def list_handset_history(device: LocalDevice, peer: str | None = None) -> list[HistoryItem]:
    """A phone's own history (with one peer, or all), oldest first."""
    rows = HandsetMessage.objects.filter(device=device)
    if peer is not None:
        rows = rows.filter(peer=peer)
    return [
        HistoryItem(
            direction=m.direction,
            peer=m.peer,
            peer_device_id=m.peer_device_id,
            guid=m.guid,
            kind=m.kind,
            body=m.body,
            status=m.status,
            client_timestamp=m.client_timestamp,
            attachment=m.attachment,
        )
        for m in rows.order_by("created_at", "id")
    ]


def list_typing_peers(handset_ids: Iterable[int]) -> dict[int, list[str]]:
    """The chats in which each phone shows "typing…" now: an indicator that has not run out
    (simulated time) and no message from that peer since it came."""
    answered = HandsetMessage.objects.filter(
        device_id=OuterRef("handset__device_id"),
        direction=HandsetMessage.Direction.IN,
        peer=OuterRef("peer"),
        created_at__gte=OuterRef("since"),
    )
    rows = (
        HandsetTyping.objects.filter(handset_id__in=list(handset_ids), until__gt=clock.now())
        .exclude(Exists(answered))
        .order_by("peer")
        .values_list("handset_id", "peer")
    )
    out: dict[int, list[str]] = defaultdict(list)
    for handset_id, peer in rows:
        out[handset_id].append(peer)
    return out
