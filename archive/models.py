"""The compliance archive's state: WARC files and the index of their records, retention
policies, legal holds, the manifest chain with its signed digests, export jobs and
verification reports. Rows change only through archive.actions; times are the simulation
clock's. Record content lives in the WARC files (a record waits in `member` only until its
file is closed and written to the store)."""

from __future__ import annotations

from django.db import models

from parley.accounts.models import Business, PhoneNumber, StaffUser


class RetentionMode(models.TextChoices):
    # S3 Object Lock's two modes: governance can be lifted by a privileged caller,
    # compliance by nobody until the retain-until date has passed.
    GOVERNANCE = "GOVERNANCE", "Governance"
    COMPLIANCE = "COMPLIANCE", "Compliance"


class RetentionPolicy(models.Model):
    """How long a business's (or one of its numbers') communications are kept."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    number = models.ForeignKey(
        PhoneNumber, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    preset = models.CharField(max_length=40)
    years = models.PositiveSmallIntegerField()
    days = models.PositiveIntegerField(default=0)  # added to years (custom policies)
    mode = models.CharField(
        max_length=10, choices=RetentionMode.choices, default=RetentionMode.COMPLIANCE
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "number"], name="archive_policy_per_number"
            ),
            models.UniqueConstraint(
                fields=["business"],
                condition=models.Q(number__isnull=True),
                name="archive_policy_per_business",
            ),
        ]

    @property
    def retention_class(self) -> str:
        return f"{self.preset}-{self.mode.lower()}-{self.years}y{self.days}d"


class ArchiveFile(models.Model):
    """One WARC file: records of one business, retention class and period. Open while it
    takes records; closed when written to the store with its manifest; purged after its
    retention (never while a legal hold applies)."""

    class State(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"
        PURGED = "purged"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    retention_class = models.CharField(max_length=80)
    # The policy it was filed under (None: the installation's default); a longer period
    # set on that policy later extends the file.
    policy = models.ForeignKey(
        RetentionPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    mode = models.CharField(max_length=10, choices=RetentionMode.choices)
    retention_years = models.PositiveSmallIntegerField()
    retention_days = models.PositiveIntegerField(default=0)
    period = models.CharField(max_length=7)  # YYYY-MM of the records' simulated time
    name = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    record_count = models.PositiveIntegerField(default=0)
    pending_bytes = models.PositiveBigIntegerField(default=0)
    last_record_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    retain_until = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    purged_at = models.DateTimeField(null=True, blank=True)
    purge_blocked = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["business", "state"]),
            models.Index(fields=["state", "retain_until"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "retention_class", "period"],
                condition=models.Q(state="open"),
                name="archive_one_open_file_per_group",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ArchiveRecord(models.Model):
    """The index of one WARC record (the CDXJ-style lookup): who, what, when, and where in
    which file. `text` is what keyword search reads; `member` holds the record's gzip
    member until its file is written."""

    # Both lead composite indexes below: no index of their own to write with every record.
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    file = models.ForeignKey(
        ArchiveFile, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    seq = models.PositiveIntegerField()  # order in the file
    record_id = models.CharField(max_length=64, unique=True)  # urn:uuid:…
    kind = models.CharField(max_length=10)  # resource | metadata
    fact = models.CharField(max_length=20)  # message | status | routing | hold
    target_uri = models.CharField(max_length=200)
    refers_to = models.CharField(max_length=64, blank=True, default="")
    message_id = models.CharField(max_length=128, blank=True, default="")
    conversation_id = models.BigIntegerField(null=True, blank=True)
    number_id = models.BigIntegerField(null=True, blank=True)
    customer = models.CharField(max_length=20, blank=True, default="")
    agent_user_id = models.BigIntegerField(null=True, blank=True)
    direction = models.CharField(max_length=8, blank=True, default="")
    occurred_at = models.DateTimeField()
    text = models.TextField(blank=True, default="")
    digest = models.CharField(max_length=80)
    member = models.BinaryField(null=True, blank=True)
    offset = models.PositiveBigIntegerField(null=True, blank=True)
    length = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["business", "occurred_at"]),
            models.Index(fields=["business", "customer", "occurred_at"]),
            models.Index(fields=["business", "conversation_id"]),
            models.Index(fields=["business", "agent_user_id"]),
            models.Index(fields=["business", "message_id"]),
            models.Index(fields=["file", "seq"]),
        ]


class ConversationAgent(models.Model):
    """The agent a conversation is with now, as routing's events tell it: the archive's
    own copy, so a message's record names its agent without asking routing."""

    conversation_id = models.BigIntegerField(primary_key=True)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    agent_user_id = models.BigIntegerField(null=True, blank=True)


class ChainHead(models.Model):
    """A business's manifest chain: the last manifest's hash (locked while one is added)."""

    business = models.OneToOneField(
        Business, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    count = models.PositiveIntegerField(default=0)
    head_hash = models.CharField(max_length=64, blank=True, default="")
    signed_count = models.PositiveIntegerField(default=0)


class Manifest(models.Model):
    """A closed file's manifest, linked to the one before it. Kept after a purge, so the
    chain stays verifiable."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    file = models.OneToOneField(ArchiveFile, on_delete=models.PROTECT, related_name="manifest")
    seq = models.PositiveIntegerField()
    body = models.JSONField()  # archive.warc.manifest.Manifest's fields
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["business", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["business", "seq"], name="archive_manifest_seq")
        ]


class SigningKey(models.Model):
    """A business's Ed25519 key for the chain's digests; the private half encrypted."""

    business = models.OneToOneField(
        Business, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    public_key = models.CharField(max_length=64)  # hex
    private_key = models.TextField()  # parley.core.crypto.encrypt_text of the hex
    created_at = models.DateTimeField()


class Digest(models.Model):
    """A signed statement of a chain's head at a moment (CloudTrail's digest files)."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField()
    body = models.JSONField()  # archive.warc.manifest.Digest's fields
    signature = models.CharField(max_length=200)

    class Meta:
        ordering = ["business", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["business", "seq"], name="archive_digest_seq")
        ]


class LegalHold(models.Model):
    """Keeps matching records (and so their files) past retention until released."""

    class Scope(models.TextChoices):
        CUSTOMER = "customer"
        CONVERSATION = "conversation"
        AGENT = "agent"
        DATE_RANGE = "date_range"
        SEARCH = "search"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    reason = models.CharField(max_length=500, blank=True, default="")
    scope = models.CharField(max_length=12, choices=Scope.choices)
    criteria = models.JSONField()  # the search filters that define it
    placed_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-placed_at"]
        indexes = [models.Index(fields=["business", "released_at"])]


class ExportJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    class Format(models.TextChoices):
        WARC = "warc", "WARC"
        WACZ = "wacz", "WACZ"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    criteria = models.JSONField()
    format = models.CharField(max_length=4, choices=Format.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True, default="")
    storage_name = models.CharField(max_length=300, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    manifest = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def progress(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0


class VerificationReport(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField()
    files_checked = models.PositiveIntegerField()
    records_checked = models.PositiveIntegerField()
    ok = models.BooleanField()
    problems = models.JSONField()  # [{"file_name", "kind", "detail"}]

    class Meta:
        ordering = ["-checked_at", "-id"]
