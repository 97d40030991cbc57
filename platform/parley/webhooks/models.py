"""A business's webhook apps and what was delivered to them. Rows change only through
parley.webhooks.actions (and the delivery worker's outcome writes)."""

from __future__ import annotations

from django.db import models

from parley.accounts.models import Business

# The webhook fields a business app can subscribe to (Meta's names).
MESSAGES = "messages"
TEMPLATE_STATUS = "message_template_status_update"
QUALITY = "phone_number_quality_update"
ACCOUNT_UPDATE = "account_update"
FIELDS = (MESSAGES, TEMPLATE_STATUS, QUALITY, ACCOUNT_UPDATE)


class WebhookApp(models.Model):
    """A business app as Meta knows one: its callback URL and verify token (the App
    Dashboard's webhook settings), its app secret (signs every delivery), the fields it
    reads, and whether it is subscribed to the business's account (`subscribed_apps`), with
    the per-account callback override that subscription can carry."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    app_id = models.CharField(max_length=20, unique=True)  # numeric Graph id
    name = models.CharField(max_length=100)
    callback_url = models.CharField(max_length=2000)
    verify_token_encrypted = models.TextField()
    fields = models.JSONField(default=list)
    subscribed = models.BooleanField(default=False)
    override_callback_url = models.CharField(max_length=2000, blank=True, default="")
    override_verify_token_encrypted = models.TextField(blank=True, default="")
    # The last verification handshake: which URL answered, when, and what went wrong.
    verified_url = models.CharField(max_length=2000, blank=True, default="")
    verified_at = models.DateTimeField(null=True, blank=True)
    handshake_error = models.CharField(max_length=500, blank=True, default="")
    # Set when the receiver answered 410 Gone: nothing is sent until it is verified again.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    # The circuit breaker (simulation clock): consecutive failed attempts, and until when
    # the receiver is left alone.
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    max_concurrency = models.PositiveSmallIntegerField(default=20)
    timeout_seconds = models.FloatField(default=10.0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["business", "subscribed"], name="webhooks_app_business")]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    @property
    def target_url(self) -> str:
        """Where deliveries go: the subscription's override, else the app's callback."""
        return self.override_callback_url or self.callback_url

    @property
    def is_verified(self) -> bool:
        return bool(self.verified_at) and self.verified_url == self.target_url

    @property
    def is_active(self) -> bool:
        return self.subscribed and self.is_verified and self.disabled_at is None


class WebhookSecret(models.Model):
    """An app secret, encrypted at rest. The newest signs X-Hub-Signature-256; during a
    rotation's overlap the previous one also signs the Standard Webhooks signature list."""

    app = models.ForeignKey(WebhookApp, on_delete=models.CASCADE, related_name="secrets")
    secret_encrypted = models.TextField()
    hint = models.CharField(max_length=8)  # the last characters, to tell secrets apart
    created_at = models.DateTimeField()
    retires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class WebhookDelivery(models.Model):
    """One change (one POST body) for one app, from one stream entry. The body is stored
    exactly as signed; `webhook_id` stays the same across retries and replays."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    STATES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (DEAD, "Dead letter")]

    app = models.ForeignKey(WebhookApp, on_delete=models.CASCADE, related_name="deliveries")
    business_id = models.BigIntegerField()
    stream_id = models.BigIntegerField()
    webhook_id = models.CharField(max_length=64, unique=True)
    field = models.CharField(max_length=64)
    event = models.CharField(max_length=100)
    # The wamid the change is about ("" for template, quality and account changes).
    message_id = models.CharField(max_length=128, blank=True, default="")
    body = models.TextField()
    state = models.CharField(max_length=10, choices=STATES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()  # its event's time (simulation clock)
    # The first attempt of the current round (a replay starts a new one): retries stop
    # once the schedule's maximum age has passed since it.
    round_started_at = models.DateTimeField(null=True, blank=True)
    round_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()  # simulation clock
    # A worker's claim (real time, so a killed worker's claims lapse even on a frozen clock).
    leased_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "stream_id"], name="webhooks_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhooks_delivery_due"),
            models.Index(fields=["business_id", "-id"], name="webhooks_delivery_log"),
            models.Index(fields=["message_id"], name="webhooks_delivery_message"),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back: the delivery log."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2000)
    started_at = models.DateTimeField()  # simulation clock
    latency_ms = models.FloatField(null=True, blank=True)
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=1000, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhooks_attempt_once")
        ]
