from __future__ import annotations

from django.db import models

from parley.core.ids import new_numeric_id


class Business(models.Model):
    """A tenant: one business account (a WhatsApp Business Account in Graph API terms), and
    the business portfolio its numbers' messaging limit is set for."""

    class MessagingLimit(models.TextChoices):
        # Meta's tiers: unique customers reached with business-initiated messages in a
        # moving 24 h (PARLEY["MESSAGING_LIMITS"] gives each one's size).
        TIER_250 = "TIER_250"
        TIER_2K = "TIER_2K"
        TIER_10K = "TIER_10K"
        TIER_100K = "TIER_100K"
        TIER_UNLIMITED = "TIER_UNLIMITED"

    id = models.BigIntegerField(primary_key=True, default=new_numeric_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    currency = models.CharField(max_length=3, default="USD")
    messaging_limit_tier = models.CharField(
        max_length=16, choices=MessagingLimit.choices, default=MessagingLimit.TIER_250
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
