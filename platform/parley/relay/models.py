"""Relay tables. Public keys, ciphertext and metadata only: no plaintext, no message keys.

Every timestamp here is metadata and is deleted (or, for `last_seen_on`, forgotten) after the
retention period (30 days) by `do_purge_metadata`."""

from __future__ import annotations

import uuid

from django.db import models

from parley.accounts.models import PhoneNumber


class EnvelopeType(models.IntegerChoices):
    """Signal's Envelope.Type numbering."""

    CIPHERTEXT = 1, "ciphertext"  # a Double Ratchet ("whisper") message
    PREKEY_BUNDLE = 3, "prekey"  # a first message carrying the (PQ)X3DH handshake
    RECEIPT = 5, "receipt"  # server generated: delivery, read or expiry notice
    UNIDENTIFIED_SENDER = 6, "sealed_sender"


CLIENT_ENVELOPE_TYPES = frozenset(
    {EnvelopeType.CIPHERTEXT, EnvelopeType.PREKEY_BUNDLE, EnvelopeType.UNIDENTIFIED_SENDER}
)


class ReceiptKind(models.TextChoices):
    DELIVERY = "delivery"
    READ = "read"
    EXPIRED = "expired"
    # The recipient is writing an answer (shown for 25 s of simulated time, or until it
    # arrives); carried as metadata like the other receipts, never a message of its own.
    TYPING = "typing"


class RelayAccount(models.Model):
    """A number known to the relay: a customer's handset or a business number."""

    class Kind(models.TextChoices):
        HANDSET = "handset"
        BUSINESS = "business"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    e164 = models.CharField(max_length=20, unique=True)
    phone_number = models.OneToOneField(
        PhoneNumber,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="relay_account",
    )
    created_at = models.DateTimeField()
    # Registration Lock: Django's `make_password` of the owner's 4-20 digit PIN; blank when
    # off. Re-registering the primary device of a locked handset number needs the PIN.
    registration_lock_hash = models.CharField(max_length=128, blank=True, default="")
    # The owner blocked every business: the relay refuses business accounts' messages to
    # it as it refuses messages to an unknown number (the sender cannot tell the two apart).
    blocks_businesses = models.BooleanField(default=False)

    class Meta:
        ordering = ["e164"]

    def __str__(self) -> str:
        return self.e164

    @property
    def business_id(self) -> int:
        """The tenant events about this account belong to; 0 for customers' handsets."""
        return self.phone_number.business_id if self.phone_number is not None else 0

    @property
    def has_registration_lock(self) -> bool:
        return bool(self.registration_lock_hash)


class Device(models.Model):
    account = models.ForeignKey(RelayAccount, on_delete=models.CASCADE, related_name="devices")
    device_id = models.PositiveSmallIntegerField()
    registration_id = models.PositiveIntegerField()
    identity_key = models.BinaryField(max_length=33)
    identity_registered_at = models.DateTimeField()
    credential_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    # Day granularity only, as Signal does: the relay need not know when exactly you were on.
    last_seen_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["account_id", "device_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "device_id"], name="relay_device_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}.{self.device_id}"


class IdentityKeyRecord(models.Model):
    """History of a device's identity keys (public, not secret) so "has this identity
    changed since T" can be answered; replaced rows are purged after the retention period."""

    account = models.ForeignKey(
        RelayAccount, on_delete=models.CASCADE, related_name="identity_history"
    )
    device_id = models.PositiveSmallIntegerField()
    identity_key = models.BinaryField(max_length=33)
    registered_at = models.DateTimeField()
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["registered_at", "id"]
        indexes = [models.Index(fields=["account", "registered_at"])]


class SignedPreKey(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="signed_pre_keys")
    key_id = models.PositiveIntegerField()
    public_key = models.BinaryField(max_length=33)
    signature = models.BinaryField(max_length=64)
    uploaded_at = models.DateTimeField()
    # Set when a newer signed pre-key replaces this one; purged after the grace period.
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "key_id"], name="relay_signed_prekey_unique")
        ]


class KemPreKey(models.Model):
    """An ML-KEM-1024 pre-key: one-time ones are claimed by a bundle fetch; the device's
    last-resort key is served whenever the one-time pool is empty."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="kem_pre_keys")
    key_id = models.PositiveIntegerField()
    public_key = models.BinaryField(max_length=1569)
    signature = models.BinaryField(max_length=64)
    last_resort = models.BooleanField(default=False)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "key_id"], name="relay_kem_prekey_unique")
        ]
        indexes = [models.Index(fields=["device", "last_resort", "id"])]


class OneTimePreKey(models.Model):
    # Indexed by (device, id) below: a bundle fetch claims the device's oldest key, which
    # the primary key alone finds only by walking every device's keys in id order.
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="one_time_pre_keys", db_index=False
    )
    key_id = models.PositiveIntegerField()
    public_key = models.BinaryField(max_length=33)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "key_id"], name="relay_ec_prekey_unique")
        ]
        indexes = [models.Index(fields=["device", "id"], name="relay_ec_prekey_claim")]


class Envelope(models.Model):
    """One queued ciphertext (or server receipt) for one recipient device."""

    guid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="envelopes")
    # Null for server-generated notices (expiry receipts).
    sender_account = models.ForeignKey(
        RelayAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sender_device_id = models.PositiveSmallIntegerField(null=True, blank=True)
    type = models.PositiveSmallIntegerField(choices=EnvelopeType.choices)
    content = models.BinaryField(blank=True, default=b"")
    size = models.PositiveIntegerField(default=0)
    client_timestamp = models.BigIntegerField(default=0)  # ms since the epoch, from the sender
    server_timestamp = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Receipts: which message, what happened to it and when.
    receipt_kind = models.CharField(max_length=8, choices=ReceiptKind.choices, blank=True)
    receipt_guid = models.UUIDField(null=True, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["server_timestamp", "id"]
        indexes = [
            models.Index(fields=["recipient", "id"]),
            models.Index(fields=["expires_at"]),
        ]


class DeliveryRecord(models.Model):
    """What happened to one client envelope: the metadata that lets delivery, read and
    expiry notices reach the sender after the envelope itself is gone."""

    guid = models.UUIDField(unique=True)
    sender_account = models.ForeignKey(RelayAccount, on_delete=models.CASCADE, related_name="+")
    sender_device_id = models.PositiveSmallIntegerField()
    recipient_account = models.ForeignKey(RelayAccount, on_delete=models.CASCADE, related_name="+")
    recipient_device_id = models.PositiveSmallIntegerField()
    type = models.PositiveSmallIntegerField(choices=EnvelopeType.choices)
    size = models.PositiveIntegerField()
    client_timestamp = models.BigIntegerField()
    server_timestamp = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["server_timestamp", "id"]
        indexes = [models.Index(fields=["server_timestamp"])]


class VerificationSession(models.Model):
    """Proof that whoever registers a handset number controls it, as Signal's verification
    session: the relay has the simulated carrier text a code to the number, the client
    submits it, then registers once with the verified session.

    The session id is a secret only the client holds (stored as its SHA-256 digest); the code
    is stored only as a keyed hash bound to the session. Deleted once expired."""

    id_digest = models.CharField(max_length=64, unique=True)
    e164 = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    code_digest = models.CharField(max_length=64, blank=True, default="")
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    # Wrong codes against the current code; at the limit the code is void.
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Set by the registration that consumed the session: a session registers once.
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["e164"]), models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"verification of {self.e164}"


class CarrierSms(models.Model):
    """A text message the simulated mobile carrier carries to a number: queued when the
    relay sends a verification code, delivered by a worker, then read on the phone of that
    number (the simulated handset). Like the business-number inbox, the text is kept
    encrypted at rest; it is deleted once it expires."""

    e164 = models.CharField(max_length=20)
    sender = models.CharField(max_length=20)
    body_encrypted = models.TextField()
    sent_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["e164", "delivered_at"]),
            models.Index(fields=["expires_at"]),
        ]

    def __str__(self) -> str:
        return f"SMS to {self.e164}"
