"""Conversations and messages: the business's side of every exchange, in its tenant.

Plaintext content lives here (the business is an endpoint); the relay only ever sees the
ciphertext of it. Rows change only through parley.messaging.actions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from parley.accounts.models import Business, PhoneNumber
from parley.messaging import lifecycle


class Conversation(models.Model):
    """One business number and one customer, with the customer-service window."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="+")
    customer = models.CharField(max_length=20)  # E.164
    # The customer as this business knows them (its business-scoped user id).
    user_id = models.CharField(max_length=32, default="", db_index=True)
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    window_expires_at = models.DateTimeField(null=True, blank=True)
    # The window end whose close was announced (so announcing it again changes nothing).
    window_closed_at = models.DateTimeField(null=True, blank=True)
    # Free entry point (parley.messaging.entry_points): the customer's latest message from
    # an ad or a Page's button, and the 72 h free window the business's answer opened.
    entry_point_at = models.DateTimeField(null=True, blank=True)
    free_entry_opened_at = models.DateTimeField(null=True, blank=True)
    free_entry_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "customer"], name="messaging_conversation_unique"
            )
        ]
        indexes = [
            models.Index(fields=["business", "-last_message_at"]),
            models.Index(fields=["window_expires_at"]),
        ]


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound"
        OUTBOUND = "outbound"

    class Status(models.TextChoices):
        ACCEPTED = lifecycle.ACCEPTED
        SENT = lifecycle.SENT
        DELIVERED = lifecycle.DELIVERED
        READ = lifecycle.READ
        FAILED = lifecycle.FAILED
        EXPIRED = lifecycle.EXPIRED
        RECEIVED = lifecycle.RECEIVED

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        # Indexed first in (conversation, created_at): no index of its own to write.
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    # The conversation's number, on the message too: what an endpoint sends next is read by
    # it from the index of accepted messages, with no join to choose a path through.
    number = models.ForeignKey(
        PhoneNumber, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    wamid = models.CharField(max_length=128, unique=True)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    content_type = models.CharField(max_length=20)
    content = models.JSONField()  # parley.messaging.content, as JSON
    reply_to = models.CharField(max_length=128, blank=True, default="")  # a wamid
    status = models.CharField(max_length=10, choices=Status.choices)
    error_code = models.PositiveIntegerField(null=True, blank=True)
    error_title = models.CharField(max_length=200, blank=True, default="")
    client_timestamp = models.BigIntegerField(default=0)  # the Signal message's, in ms
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    # A business message accepted inside a free entry point window: when that window ends
    # (the message is free, whatever its category).
    free_entry_until = models.DateTimeField(null=True, blank=True)
    # A customer's media message: the Graph media id the business reads it by.
    media_id = models.BigIntegerField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            # What a number's endpoint sends next: its few accepted messages, without a walk
            # through every message it ever had (its history grows; these don't).
            models.Index(
                fields=["number", "id"],
                condition=Q(status="accepted"),
                name="messaging_message_to_send",
            ),
        ]

    @property
    def preview(self) -> str:
        from parley.messaging.content import ContentError, parse_content

        try:
            return parse_content(self.content).preview()
        except ContentError:
            return f"[{self.content_type}]"


class Envelope(models.Model):
    """A relay envelope that carried a message: one per customer device for outbound, the
    one it arrived in for inbound. Receipts name the envelope, this finds the message."""

    guid = models.CharField(max_length=36, unique=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="envelopes")
    device_id = models.PositiveSmallIntegerField(default=1)


class Endpoint(models.Model):
    """A business number whose Signal endpoint runs as a service in the workers: queued
    envelopes are pulled and decrypted for it, outbound messages encrypted and sent."""

    number = models.OneToOneField(PhoneNumber, on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()


class Reach(models.Model):
    """A business message the endpoint let out under the platform's limits: what the limits
    count. A business-initiated one (a template while the customer's service window was
    closed) counts toward its business portfolio's messaging limit (unique customers in a
    moving 24 h); a marketing template toward the customer's per-user marketing limit (from
    all businesses). A message the relay then refused (failed) counts for neither."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+")
    customer = models.CharField(max_length=20)  # E.164
    business_initiated = models.BooleanField()
    marketing = models.BooleanField()
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["business", "at"]),
            models.Index(fields=["customer", "at"]),
        ]


class CustomerBlock(models.Model):
    """A customer who blocked the business after this number wrote to them (the relay's
    `relay.business_blocked`): what the number's quality rating follows."""

    number = models.ForeignKey(PhoneNumber, on_delete=models.CASCADE, related_name="+")
    customer = models.CharField(max_length=20)  # E.164
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number", "customer", "at"], name="messaging_block_unique"
            )
        ]
        indexes = [models.Index(fields=["number", "at"])]
