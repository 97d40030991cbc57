"""Billing's tables: agents and their fixed category, delivered-message facts, the billable
events rated from them, rate-card rows and the report files written for carriers."""

from __future__ import annotations

from typing import Any

from django.db import models

from billing.engine import BillingCategory


class BillingAgent(models.Model):
    """An RCS agent (or WhatsApp sender) of a business, with its billing category, which is
    chosen at creation and can never change."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    agent_id = models.CharField(max_length=100)
    display_name = models.CharField(max_length=100)
    billing_category = models.CharField(
        max_length=24, choices=[(c.value, c.value) for c in BillingCategory]
    )
    legacy_category = models.CharField(max_length=24, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "agent_id"], name="billing_agent_unique")
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            stored = BillingAgent.objects.filter(pk=self.pk).values_list(
                "billing_category", flat=True
            )
            if stored and stored[0] != self.billing_category:
                raise TypeError("an agent's billing category cannot change")
        super().save(*args, **kwargs)


class MessageFactRecord(models.Model):
    """What billing knows of one delivered (or pending, or expired) message: never content."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=128)
    agent_id = models.CharField(max_length=100)
    agent_category = models.CharField(max_length=24)
    customer = models.CharField(max_length=20)
    country = models.CharField(max_length=3)
    channel = models.CharField(max_length=10)
    direction = models.CharField(max_length=3)
    content = models.CharField(max_length=24)
    suggestions = models.CharField(max_length=10, default="none")
    url_preview = models.BooleanField(default=False)
    template_category = models.CharField(max_length=16, blank=True, default="")
    text_bytes = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    expired = models.BooleanField(default=False)
    # A customer's message from an ad or a Page's button (billing.engine.facts).
    entry_point = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "message_id"], name="billing_fact_unique")
        ]
        indexes = [models.Index(fields=["business", "customer"])]


class BillableEventRecord(models.Model):
    """One rated, priced billable event (a row of the billing-event report)."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=32)
    event_type = models.CharField(max_length=32)
    model = models.CharField(max_length=10)
    channel = models.CharField(max_length=10)
    agent_id = models.CharField(max_length=100)
    customer = models.CharField(max_length=20)
    country = models.CharField(max_length=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    period = models.CharField(max_length=7)
    message_ids = models.TextField(help_text="space-separated member message ids")
    mt_messages = models.PositiveIntegerField()
    mo_messages = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    segment_count = models.PositiveIntegerField(default=0)
    whatsapp_category = models.CharField(max_length=16, blank=True, default="")
    chargeable = models.BooleanField()
    reason = models.CharField(max_length=120)
    status = models.CharField(max_length=12)
    final_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["business", "event_id"], name="billing_event_unique")
        ]
        indexes = [
            models.Index(fields=["business", "period"]),
            models.Index(fields=["business", "customer"]),
            models.Index(fields=["status", "final_at"]),
        ]


class RateCardRow(models.Model):
    """A business's own rate card; a business without rows is priced at the default card."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=3)
    item = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    effective_from = models.DateField()

    class Meta:
        ordering = ["country", "item", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "country", "item", "effective_from"], name="billing_rate_unique"
            )
        ]


class ReportFile(models.Model):
    """A report written to storage for the carriers' file drop."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)  # billing_events, billing_events_us, activity_log
    day = models.DateField()
    path = models.CharField(max_length=300)
    rows = models.PositiveIntegerField()
    provisional_rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "kind", "day"], name="billing_report_unique"
            )
        ]
