"""Reads of the fleet's state."""

from __future__ import annotations

from dataclasses import dataclass

from e2ee.handsets.models import FleetHandset, PendingRead
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
