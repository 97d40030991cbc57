"""What the fleet must remember across restarts: which handsets it runs, whether each is
online, how long its user takes to read a message, and the read receipts still due."""

from __future__ import annotations

from django.db import models

from e2ee.models import LocalDevice
from parley.accounts.models import Business


class FleetHandset(models.Model):
    """A simulated customer's phone run by the fleet (its keys live in its LocalDevice)."""

    device = models.OneToOneField(LocalDevice, on_delete=models.CASCADE, related_name="fleet")
    online = models.BooleanField(default=True)
    # Seconds (of simulated time) between receiving a message and reading it; null: the
    # user never opens it by themselves.
    read_delay_seconds = models.FloatField(null=True, blank=True)
    # How many received messages `handset inbox` has already shown.
    inbox_shown = models.PositiveIntegerField(default=0)
    # How many received messages the user has read by opening the chat (`read`).
    read_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # The business whose developer made this customer (through the simulator API, the
    # `customer` command or the console); null for handsets of the `handset` command.
    business = models.ForeignKey(
        Business,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="simulated_customers",
    )
    # The language the customer's phone is set to (e.g. "en_US").
    language = models.CharField(max_length=15, default="en_US")
    # Simulated time since which the phone has been offline, for the fault number that
    # comes online after a fixed stretch (e2ee.handsets.faults); null for the others.
    offline_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.device.e164} ({'online' if self.online else 'offline'})"


class PendingRead(models.Model):
    """A read receipt the handset's user will send once `due_at` (simulated time) passes."""

    handset = models.ForeignKey(FleetHandset, on_delete=models.CASCADE, related_name="reads")
    guid = models.CharField(max_length=36)
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handset", "guid"], name="handsets_read_unique")
        ]
