"""A business's message templates, as the Cloud API keeps them."""

from __future__ import annotations

import secrets

from django.db import models

from parley.accounts.models import Business


def new_template_id() -> int:
    """A random 16-digit Graph id. Businesses and phone numbers have 15-digit ids
    (parley.core.ids.new_numeric_id), so a template id never names one of them on the shared
    `/{version}/{id}` path."""
    return 1_000_000_000_000_000 + secrets.randbelow(9_000_000_000_000_000)


class MessageTemplate(models.Model):
    class Category(models.TextChoices):
        MARKETING = "MARKETING"
        UTILITY = "UTILITY"
        AUTHENTICATION = "AUTHENTICATION"

    class ParameterFormat(models.TextChoices):
        POSITIONAL = "POSITIONAL"
        NAMED = "NAMED"

    class Status(models.TextChoices):
        PENDING = "PENDING"
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"
        PAUSED = "PAUSED"
        DISABLED = "DISABLED"

    # The row id orders lists and pages; the Graph id is what clients see.
    id = models.BigAutoField(primary_key=True)
    graph_id = models.BigIntegerField(unique=True, default=new_template_id, editable=False)
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="message_templates"
    )
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=15)
    category = models.CharField(max_length=16, choices=Category.choices)
    parameter_format = models.CharField(
        max_length=10, choices=ParameterFormat.choices, default=ParameterFormat.POSITIONAL
    )
    components = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Meta's `rejected_reason` ("NONE" unless rejected), and the reason given with the last
    # change of status (a pause or a disable says why too).
    rejected_reason = models.CharField(max_length=40, default="NONE")
    status_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    # When the simulated review approves a pending template by itself (None: it waits for
    # someone to drive the review).
    review_due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "name", "language"], name="message_template_unique_language"
            )
        ]
        indexes = [
            models.Index(fields=["status", "review_due_at"], name="message_template_due"),
            models.Index(fields=["business", "name"], name="message_template_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"
