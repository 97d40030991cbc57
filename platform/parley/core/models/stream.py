from __future__ import annotations

from django.db import models


class StreamEntry(models.Model):
    """One published event: the append-only log (the transactional outbox). `id` is the
    stream id; readers stop below ids still in flight (parley.core.stream.log.safe_bound)."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=100)
    business_id = models.BigIntegerField()
    # Roles allowed to see the event, comma-separated (",agent,supervisor," for LIKE lookups).
    audience = models.CharField(max_length=200, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=200)
    payload = models.JSONField()
    occurred_at = models.DateTimeField()

    class Meta:
        db_table = "core_stream_entry"
        indexes = [models.Index(fields=["business_id", "id"], name="core_stream_business_id")]

    def __str__(self) -> str:
        return f"#{self.id} {self.name}"


class StreamConsumer(models.Model):
    """A named consumer's saved position: every entry up to `position` was handled or parked
    as a pending delivery."""

    name = models.CharField(max_length=100, primary_key=True)
    position = models.BigIntegerField(default=0)
    processed = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "core_stream_consumer"

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"


class StreamPending(models.Model):
    """An entry a consumer has not handled yet: waiting for a retry, held behind an earlier
    entry of the same key, or dead (after too many attempts, until an administrator
    re-drives it)."""

    RETRY = "retry"
    DEAD = "dead"
    STATES = [(RETRY, "Retry"), (DEAD, "Dead letter")]

    consumer = models.CharField(max_length=100)
    entry_id = models.BigIntegerField()
    key = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=STATES, default=RETRY)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "core_stream_pending"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "entry_id"], name="core_pending_once")
        ]
        indexes = [
            models.Index(fields=["consumer", "state", "entry_id"], name="core_pending_state"),
            models.Index(fields=["consumer", "key"], name="core_pending_key"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer} #{self.entry_id} ({self.state})"
