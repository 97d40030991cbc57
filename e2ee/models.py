"""The client side of end-to-end encryption: one row per local Signal device.

A device is owned either by a business number (the Business API's side of each session,
held inside the business's tenant) or by a simulated customer handset. Everything secret
(identity private key, pre-key pairs, session state, the relay password) is encrypted at
rest with `parley.core.crypto`; these tables are NOT relay tables. This app keeps key
material and sessions only: a handset's plaintext history is the handsets app's
(`handsets.HandsetMessage`), a business number's is parley.messaging's; the store reaches
each through a port (e2ee.store)."""

from __future__ import annotations

from django.db import models

from parley.accounts.models import Business, PhoneNumber


class LocalDevice(models.Model):
    class Owner(models.TextChoices):
        HANDSET = "handset"
        BUSINESS = "business"

    owner = models.CharField(max_length=8, choices=Owner.choices)
    e164 = models.CharField(max_length=20)
    device_id = models.PositiveSmallIntegerField(default=1)
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, null=True, blank=True, related_name="e2ee_devices"
    )
    phone_number = models.ForeignKey(
        PhoneNumber, on_delete=models.CASCADE, null=True, blank=True, related_name="e2ee_devices"
    )
    registration_id = models.PositiveIntegerField()
    identity_public = models.BinaryField(max_length=33)
    identity_private_encrypted = models.TextField()  # Fernet(base64(private key bytes))
    relay_url = models.CharField(max_length=200, blank=True)
    credential_encrypted = models.TextField(blank=True)  # Fernet("<e164>.<id>:<password>")
    next_pre_key_id = models.PositiveIntegerField(default=1)
    next_kyber_pre_key_id = models.PositiveIntegerField(default=1)
    next_signed_pre_key_id = models.PositiveIntegerField(default=1)
    active_signed_pre_key_id = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["e164", "device_id"], name="e2ee_device_unique"),
            models.CheckConstraint(
                condition=models.Q(owner="handset", business__isnull=True)
                | models.Q(owner="business", business__isnull=False),
                name="e2ee_device_owner_matches_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.e164}.{self.device_id}"


class PeerIdentity(models.Model):
    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="identities")
    name = models.CharField(max_length=40)
    peer_device_id = models.PositiveSmallIntegerField()
    identity_key = models.BinaryField(max_length=33)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "name", "peer_device_id"], name="e2ee_identity_unique"
            )
        ]


class IdentityChangeNotice(models.Model):
    """ "Your security code with X changed": shown to the user, kept until dismissed."""

    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="notices")
    name = models.CharField(max_length=40)
    peer_device_id = models.PositiveSmallIntegerField()
    old_key = models.BinaryField(max_length=33)
    new_key = models.BinaryField(max_length=33)
    created_at = models.DateTimeField()
    seen_at = models.DateTimeField(null=True, blank=True)
    # A business number's: when its business was told (customer.identity_changed); the
    # notice stays unseen for whoever reads the number's inbox.
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class PreKey(models.Model):
    class Kind(models.TextChoices):
        ONE_TIME = "ec"
        SIGNED = "signed"
        KYBER = "kyber"

    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="pre_keys")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    key_id = models.PositiveIntegerField()
    last_resort = models.BooleanField(default=False)
    record_encrypted = models.TextField()  # Fernet(base64(record.to_bytes()))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "kind", "key_id"], name="e2ee_prekey_unique")
        ]


class Session(models.Model):
    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="sessions")
    name = models.CharField(max_length=40)
    peer_device_id = models.PositiveSmallIntegerField()
    record_encrypted = models.TextField()  # Fernet(base64(SessionRecord.to_bytes()))
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "name", "peer_device_id"], name="e2ee_session_unique"
            )
        ]


class HealthCounter(models.Model):
    """Key-agreement and decryption counters of one device (and so of its business), spread
    over a few rows per device (`shard`) so concurrent decryptions for one busy number do not
    queue on one row; reads sum the shards (e2ee.health)."""

    device = models.ForeignKey(LocalDevice, on_delete=models.CASCADE, related_name="+")
    shard = models.PositiveSmallIntegerField(default=0)
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    key_agreements = models.PositiveBigIntegerField(default=0)
    key_agreement_failures = models.PositiveBigIntegerField(default=0)
    decryptions = models.PositiveBigIntegerField(default=0)
    decryption_failures = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "shard"], name="e2ee_health_device_shard")
        ]
