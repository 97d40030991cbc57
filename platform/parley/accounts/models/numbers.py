from __future__ import annotations

from django.db import models

from parley.accounts.models.tenants import Business
from parley.core.ids import new_numeric_id


class PhoneNumber(models.Model):
    """A business phone number and its registration on the platform.

    The registration flow mirrors the Cloud API: request a code (SMS/voice), verify it,
    then register with a 6-digit two-step verification PIN."""

    class CodeStatus(models.TextChoices):
        NOT_VERIFIED = "NOT_VERIFIED"
        VERIFIED = "VERIFIED"
        EXPIRED = "EXPIRED"

    class Status(models.TextChoices):
        PENDING = "PENDING"  # added, not yet registered
        CONNECTED = "CONNECTED"  # registered for messaging
        DISCONNECTED = "DISCONNECTED"

    class Throughput(models.TextChoices):
        # Messages a second: PARLEY THROUGHPUT_STANDARD (80) and THROUGHPUT_HIGH (1,000).
        STANDARD = "STANDARD"
        HIGH = "HIGH"

    class Quality(models.TextChoices):
        # Meta's quality rating: high, medium, low. RED stops messaging-limit upgrades.
        GREEN = "GREEN"
        YELLOW = "YELLOW"
        RED = "RED"

    class Official(models.TextChoices):
        UNVERIFIED = "unverified"
        PENDING = "pending"
        VERIFIED = "verified"

    id = models.BigIntegerField(primary_key=True, default=new_numeric_id, editable=False)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="numbers")
    e164 = models.CharField(max_length=20, unique=True)
    country = models.CharField(max_length=2)
    display_name = models.CharField(max_length=100)
    code_verification_status = models.CharField(
        max_length=16, choices=CodeStatus.choices, default=CodeStatus.NOT_VERIFIED
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    official_verification = models.CharField(
        max_length=16, choices=Official.choices, default=Official.UNVERIFIED
    )
    official_requested_at = models.DateTimeField(null=True, blank=True)
    pin_hash = models.CharField(max_length=200, blank=True, default="")
    quality_rating = models.CharField(max_length=8, choices=Quality.choices, default=Quality.GREEN)
    # The rating was lowered by customers' blocks (parley.messaging.quality): it rises again
    # by itself as they age out of the quality window; a rating set by hand stays.
    quality_from_blocks = models.BooleanField(default=False)
    throughput_level = models.CharField(
        max_length=8, choices=Throughput.choices, default=Throughput.STANDARD
    )
    # A throughput upgrade takes a while; sends meanwhile fail with 131057.
    throughput_upgrading_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    registered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["e164"]

    def __str__(self) -> str:
        return self.e164


class NumberVerificationCode(models.Model):
    """A registration code the simulated carrier delivers to a business number.

    Kept hashed for checking and encrypted so the number's owner can read the simulated SMS
    in the console, as they would on the real handset."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="codes")
    method = models.CharField(max_length=8)  # SMS or VOICE
    language = models.CharField(max_length=16, default="en_US")
    code_hash = models.CharField(max_length=200)
    code_encrypted = models.TextField()
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class BusinessProfile(models.Model):
    """A number's WhatsApp business profile, as customers see it (Meta's
    `whatsapp_business_profile`). Empty text means "not set". The profile picture is a copy of
    an uploaded image in Django's storage (`profile_picture_name`), so it outlives the
    uploaded media object's 30 days."""

    class Vertical(models.TextChoices):
        # Meta's WhatsAppBusinessVertical enumeration (Graph v23.0), in its order.
        OTHER = "OTHER"
        AUTO = "AUTO"
        BEAUTY = "BEAUTY"
        APPAREL = "APPAREL"
        EDU = "EDU"
        ENTERTAIN = "ENTERTAIN"
        EVENT_PLAN = "EVENT_PLAN"
        FINANCE = "FINANCE"
        GROCERY = "GROCERY"
        GOVT = "GOVT"
        HOTEL = "HOTEL"
        HEALTH = "HEALTH"
        NONPROFIT = "NONPROFIT"
        PROF_SERVICES = "PROF_SERVICES"
        RETAIL = "RETAIL"
        TRAVEL = "TRAVEL"
        RESTAURANT = "RESTAURANT"
        ALCOHOL = "ALCOHOL"
        ONLINE_GAMBLING = "ONLINE_GAMBLING"
        PHYSICAL_GAMBLING = "PHYSICAL_GAMBLING"
        OTC_DRUGS = "OTC_DRUGS"

    number = models.OneToOneField(
        PhoneNumber, on_delete=models.CASCADE, primary_key=True, related_name="business_profile"
    )
    about = models.CharField(max_length=139, blank=True, default="")
    address = models.CharField(max_length=256, blank=True, default="")
    description = models.CharField(max_length=512, blank=True, default="")
    email = models.CharField(max_length=128, blank=True, default="")
    vertical = models.CharField(max_length=20, choices=Vertical.choices, blank=True, default="")
    websites = models.JSONField(default=list, blank=True)
    # The handle the picture was set with (a media id), and the stored copy of its bytes.
    profile_picture_handle = models.CharField(max_length=200, blank=True, default="")
    profile_picture_name = models.CharField(max_length=200, blank=True, default="")
    profile_picture_mime_type = models.CharField(max_length=100, blank=True, default="")
    profile_picture_sha256 = models.CharField(max_length=64, blank=True, default="")
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"profile of {self.number_id}"
