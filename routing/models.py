"""Routing's state: agents (a staff user's routing profile), skills, queues, routing rules,
SLA policies and the service sessions that move through them. Rows change only through
routing.actions; times are the simulation clock's, except `Agent.touched_at` (wall time,
which tells a process's in-memory index which agents changed since it last looked)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from parley.accounts.models import Business, PhoneNumber, StaffUser
from parley.messaging.models import Conversation

MIN_CAPACITY = 1
MAX_CAPACITY = 50
DEFAULT_CAPACITY = 15


class Skill(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    name = models.SlugField(max_length=40)
    label = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="routing_skill_unique")
        ]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets a queue's sessions are measured against (seconds of simulated time)."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    first_response_s = models.PositiveIntegerField(default=30)
    next_response_s = models.PositiveIntegerField(default=24 * 3600)
    resolution_s = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="routing_sla_unique")
        ]


class Queue(models.Model):
    """A skill group: sessions wait here, highest priority first, then longest waiting."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    priority = models.SmallIntegerField(default=0)  # higher is served first
    language = models.CharField(max_length=8, blank=True, default="")  # "" = any
    numbers = models.ManyToManyField(PhoneNumber, blank=True, related_name="+")
    is_default = models.BooleanField(default=False)
    sla = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="queues"
    )
    # An offer neither accepted nor answered within this moves on (TaskRouter's reservation
    # timeout); the agent who let it lapse is set away.
    offer_timeout_s = models.PositiveIntegerField(default=60)
    # A session waiting this long gains one priority step (0: never), up to `max_priority`.
    escalate_after_s = models.PositiveIntegerField(default=300)
    max_priority = models.SmallIntegerField(default=10)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.UniqueConstraint(fields=["business", "name"], name="routing_queue_unique")
        ]

    def __str__(self) -> str:
        return self.name


class QueueSkill(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    min_proficiency = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "skill"], name="routing_queue_skill_unique")
        ]


class Agent(models.Model):
    """A staff user who takes conversations: capacity, skills, languages, status, presence."""

    class Status(models.TextChoices):
        AVAILABLE = "available"
        BUSY = "busy"
        AWAY = "away"
        OFFLINE = "offline"

    user = models.OneToOneField(StaffUser, on_delete=models.CASCADE, related_name="routing_agent")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    team = models.CharField(max_length=80, blank=True, default="")
    capacity = models.PositiveSmallIntegerField(default=DEFAULT_CAPACITY)
    languages = models.JSONField(default=list, blank=True)  # ["en", "hi"]
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    # Why the status last changed without the agent choosing it ("idle", "offer_timeout").
    status_reason = models.CharField(max_length=20, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Offered and active sessions: what capacity limits.
    load = models.PositiveSmallIntegerField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)  # a console heartbeat
    last_active_at = models.DateTimeField(null=True, blank=True)  # a heartbeat with activity
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    touched_at = models.DateTimeField(db_index=True)  # any change (load included)
    # A change of status or profile: what the index must re-read in full.
    profile_at = models.DateTimeField(db_index=True, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=MIN_CAPACITY) & Q(capacity__lte=MAX_CAPACITY),
                name="routing_agent_capacity_range",
            ),
        ]
        indexes = [models.Index(fields=["business", "status"])]


class AgentSkill(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    proficiency = models.PositiveSmallIntegerField(default=3)  # 1 to 5

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "skill"], name="routing_agent_skill_unique")
        ]


class RoutingRule(models.Model):
    """Decides a new session's queue, priority or language from what the customer sent or
    who they are; the first matching rule by position wins."""

    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Message contains a keyword"
        BUTTON = "button", "Template button reply"
        COUNTRY = "country", "Customer's country"
        NUMBER = "number", "Business number"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=100)
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    priority = models.SmallIntegerField(default=0)  # added to the queue's
    language = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        ordering = ["position", "id"]


class Session(models.Model):
    """One stretch of service of a conversation: opened by a customer's message when none is
    open, offered to an agent, answered, resolved. At most one open session per
    conversation."""

    class State(models.TextChoices):
        WAITING = "waiting"
        OFFERED = "offered"
        ACTIVE = "active"
        SNOOZED = "snoozed"
        RESOLVED = "resolved"
        ABANDONED = "abandoned"

    OPEN_STATES = (State.WAITING, State.OFFERED, State.ACTIVE, State.SNOOZED)
    # What counts toward an agent's load (a snoozed session keeps its agent but not the load).
    HELD_STATES = (State.OFFERED, State.ACTIVE)

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="sessions")
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    base_priority = models.SmallIntegerField(default=0)
    priority = models.SmallIntegerField(default=0)  # with ageing
    language = models.CharField(max_length=8, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    unread = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField()
    waiting_since = models.DateTimeField(null=True, blank=True)  # in the queue since
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)  # first offered to an agent
    accepted_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_response_at = models.DateTimeField(null=True, blank=True)
    # The customer's oldest unanswered message (None: nothing awaits a reply).
    awaiting_since = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    transfers = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(state__in=["waiting", "offered", "active", "snoozed"]),
                name="routing_one_open_session",
            )
        ]
        indexes = [
            models.Index(fields=["business", "state", "-priority", "waiting_since"]),
            models.Index(fields=["agent", "state"]),
            models.Index(fields=["state", "offer_expires_at"]),
            models.Index(fields=["business", "opened_at"]),
        ]


class SessionLog(models.Model):
    """What happened to a session, in order: queued, offered, accepted, answered, timed
    out, returned, transferred, noted, snoozed, resolved, abandoned, breached."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="log")
    kind = models.CharField(max_length=16)
    at = models.DateTimeField()
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]


class Note(models.Model):
    """A private note on a conversation: staff only, never sent to the customer."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(StaffUser, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class CannedResponse(models.Model):
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    shortcut = models.SlugField(max_length=40)
    text = models.TextField(max_length=4096)

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(fields=["business", "shortcut"], name="routing_canned_unique")
        ]


class SlaBreach(models.Model):
    class Kind(models.TextChoices):
        FIRST_RESPONSE = "first_response"
        NEXT_RESPONSE = "next_response"
        RESOLUTION = "resolution"

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="breaches")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField()
    breached_at = models.DateTimeField()
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "kind", "due_at"], name="routing_breach_once"
            )
        ]
        indexes = [models.Index(fields=["business", "breached_at"])]
