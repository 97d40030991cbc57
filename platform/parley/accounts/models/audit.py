from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("the audit log is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only; old entries leave only by retention")


class AuditEntry(models.Model):
    """One administrative operation. Each entry hashes the previous one of its chain, so
    editing or removing an entry in the middle breaks the chain where it happened.

    Every business has its own chain (`chain` is its id) and the installation one more for
    entries that belong to no business (`chain` 0): appends of different businesses never
    wait for each other."""

    chain = models.BigIntegerField(default=0)
    seq = models.BigIntegerField()  # position in its chain, from 1
    business_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_ref = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=254, blank=True)
    details = models.JSONField(default=dict)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="accounts_audit_chain_seq")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit log is append-only")


class AuditChainHead(models.Model):
    """One chain's head: the row that serialises appends to that chain and remembers where
    the chain starts after retention purged older entries (the hash of the last purged
    entry). `id` is the chain: a business's id, or 0 for the installation's own entries."""

    id = models.BigIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    purged_through_seq = models.BigIntegerField(default=0)
    purged_through_hash = models.CharField(max_length=64, default="0" * 64)
