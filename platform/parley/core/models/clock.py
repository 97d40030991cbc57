from __future__ import annotations

from django.db import models


class SimulationClock(models.Model):
    """The one clock every live process reads (web, workers, beat, handsets).

    Simulated time is real time plus `offset_us`, or `frozen_at` while the clock is stopped.
    One row per installation, read (cached) on every `clock.now()` and written only when an
    administrator or developer moves the clock, never on a per-message path."""

    offset_us = models.BigIntegerField(default=0)
    frozen_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=200, blank=True)
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "core_simulation_clock"

    def __str__(self) -> str:
        return f"simulation clock (offset {self.offset_us} µs, frozen at {self.frozen_at})"
