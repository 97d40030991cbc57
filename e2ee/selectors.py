"""Reads of the e2ee glue: local devices and the security team's health indicators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Sum

from e2ee.models import HealthCounter, LocalDevice
from parley.accounts.actions.numbers import parse_e164
from parley.core.errors import NotFound

# SPEC §1: key-agreement success ≥ 99.9 %, decryption failures < 0.01 %.
KEY_AGREEMENT_SUCCESS_TARGET = 0.999
DECRYPTION_FAILURE_TARGET = 0.0001


def get_device(e164: str) -> LocalDevice:
    number, _ = parse_e164(e164)
    device = LocalDevice.objects.filter(e164=number, device_id=1).first()
    if device is None:
        raise NotFound(f"No local device for {number}: create it first.")
    return device


def list_devices(owner: str | None = None) -> list[LocalDevice]:
    rows = LocalDevice.objects.order_by("owner", "e164")
    return list(rows.filter(owner=owner) if owner else rows)


@dataclass(frozen=True)
class HealthReport:
    devices: int
    key_agreements: int
    key_agreement_failures: int
    decryptions: int
    decryption_failures: int

    @property
    def key_agreement_success_rate(self) -> float | None:
        if not self.key_agreements:
            return None
        return 1 - self.key_agreement_failures / self.key_agreements

    @property
    def decryption_failure_rate(self) -> float | None:
        return self.decryption_failures / self.decryptions if self.decryptions else None

    def as_dict(self) -> dict[str, Any]:
        success, failure = self.key_agreement_success_rate, self.decryption_failure_rate
        return {
            "devices": self.devices,
            "key_agreements": {
                "attempted": self.key_agreements,
                "failed": self.key_agreement_failures,
                "success_rate": success,
                "target": KEY_AGREEMENT_SUCCESS_TARGET,
                "healthy": success is None or success >= KEY_AGREEMENT_SUCCESS_TARGET,
            },
            "decryption": {
                "attempted": self.decryptions,
                "failed": self.decryption_failures,
                "failure_rate": failure,
                "target": DECRYPTION_FAILURE_TARGET,
                "healthy": failure is None or failure < DECRYPTION_FAILURE_TARGET,
            },
        }


def get_health(*, business_id: int | None = None, handsets: bool = False) -> HealthReport:
    """Counters summed over one business's devices, or over the simulated handsets
    (``handsets=True``), or over everything."""
    rows = HealthCounter.objects.all()
    if business_id is not None:
        rows = rows.filter(business_id=business_id)
    elif handsets:
        rows = rows.filter(business__isnull=True)
    totals = rows.aggregate(
        a=Sum("key_agreements"),
        af=Sum("key_agreement_failures"),
        d=Sum("decryptions"),
        df=Sum("decryption_failures"),
    )
    return HealthReport(
        # A device's counters are spread over several rows (e2ee.health).
        devices=rows.values("device_id").distinct().count(),
        key_agreements=totals["a"] or 0,
        key_agreement_failures=totals["af"] or 0,
        decryptions=totals["d"] or 0,
        decryption_failures=totals["df"] or 0,
    )
