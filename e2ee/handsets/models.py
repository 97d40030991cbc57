"""What the fleet must remember across restarts: which handsets it runs, whether each is
online, how long its user takes to read a message, and the read receipts still due; and what
each simulated phone keeps of its own chats (`HandsetMessage`: the phone is an endpoint, so
its history is plaintext, and it is the phone's, not the business's)."""

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
    # The user blocked businesses on this phone (the relay refuses their messages).
    blocks_businesses = models.BooleanField(default=False)

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


class HandsetMessage(models.Model):
    """One message of a simulated handset's own history, as its phone shows it (plaintext:
    the phone is the endpoint). Written and read by the e2ee store through the port this
    app installs (`e2ee.store.use_handset_history`, see e2ee.handsets.history); a business
    number's history is parley.messaging's. Never a relay table."""

    class Direction(models.TextChoices):
        IN = "in"
        OUT = "out"

    class Status(models.TextChoices):
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        EXPIRED = "expired"
        RECEIVED = "received"
        FAILED = "failed"  # could not be decrypted

    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="history")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    peer = models.CharField(max_length=20)
    peer_device_id = models.PositiveSmallIntegerField(default=1)
    guid = models.CharField(max_length=36, blank=True, db_index=True)
    kind = models.CharField(max_length=16, default="text")  # text, media, undecryptable
    body = models.TextField(blank=True)
    attachment = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    client_timestamp = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.device_id} {self.direction} {self.peer} {self.guid}"


class HandsetTyping(models.Model):
    """A business writing an answer to this phone's user, as the phone shows it
    ("typing…"): from the indicator's arrival until `until` (simulated time), or until the
    business's next message arrives."""

    handset = models.ForeignKey(FleetHandset, on_delete=models.CASCADE, related_name="typing")
    peer = models.CharField(max_length=20)
    since = models.DateTimeField()
    until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["handset", "peer"], name="handsets_typing_unique")
        ]
