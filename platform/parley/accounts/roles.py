"""Roles and the permission matrix: the one place that says who may do what.

Every view, API endpoint and websocket checks a Capability through `can()`; nothing else
compares role names."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMINISTRATOR = "administrator"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    COMPLIANCE_OFFICER = "compliance_officer"
    DEVELOPER = "developer"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Rank decides who may assign which role: nobody may give anyone (themselves included) a
# role ranked above their own, nor manage an account ranked above their own.
RANK: dict[Role, int] = {
    Role.ADMINISTRATOR: 3,
    Role.SUPERVISOR: 2,
    Role.COMPLIANCE_OFFICER: 2,
    Role.DEVELOPER: 2,
    Role.AGENT: 1,
}


class Capability(enum.StrEnum):
    READ_CONVERSATIONS = "read_conversations"
    MANAGE_STAFF = "manage_staff"
    MANAGE_AGENTS = "manage_agents"
    VIEW_STAFF = "view_staff"
    VIEW_ARCHIVE = "view_archive"
    MANAGE_RETENTION = "manage_retention"
    VIEW_ARCHIVE_STATUS = "view_archive_status"
    MANAGE_API_TOKENS = "manage_api_tokens"
    MANAGE_WEBHOOKS = "manage_webhooks"
    VIEW_BILLING = "view_billing"
    MANAGE_BILLING = "manage_billing"
    MANAGE_NUMBERS = "manage_numbers"
    VIEW_NUMBERS = "view_numbers"
    VIEW_AUDIT_LOG = "view_audit_log"
    SUPERVISE_QUEUES = "supervise_queues"
    VIEW_SECURITY_HEALTH = "view_security_health"
    MANAGE_CLOCK = "manage_clock"
    VIEW_MESSAGE_LOG = "view_message_log"
    SEND_MESSAGES = "send_messages"
    MANAGE_TEMPLATES = "manage_templates"
    DRIVE_CUSTOMERS = "drive_customers"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[Capability, str] = {
    Capability.READ_CONVERSATIONS: "Read conversation content",
    Capability.MANAGE_STAFF: "Manage all staff accounts",
    Capability.MANAGE_AGENTS: "Manage agent accounts",
    Capability.VIEW_STAFF: "See the staff directory",
    Capability.VIEW_ARCHIVE: "Search and export the archive",
    Capability.MANAGE_RETENTION: "Set retention and legal holds",
    Capability.VIEW_ARCHIVE_STATUS: "See the archive's files, retention and verification",
    Capability.MANAGE_API_TOKENS: "Create and revoke API tokens",
    Capability.MANAGE_WEBHOOKS: "Manage webhooks",
    Capability.VIEW_BILLING: "See billing",
    Capability.MANAGE_BILLING: "Edit rate cards and billing agents",
    Capability.MANAGE_NUMBERS: "Register business numbers",
    Capability.VIEW_NUMBERS: "See business numbers",
    Capability.VIEW_AUDIT_LOG: "Read the audit log",
    Capability.SUPERVISE_QUEUES: "Watch queues, load and service levels",
    Capability.VIEW_SECURITY_HEALTH: "See encryption health counters",
    Capability.MANAGE_CLOCK: "Move the simulation clock",
    Capability.VIEW_MESSAGE_LOG: "See the message log (statuses and charges)",
    Capability.SEND_MESSAGES: "Send messages and mark them read",
    Capability.MANAGE_TEMPLATES: "Manage message templates",
    Capability.DRIVE_CUSTOMERS: "Drive simulated customers",
}

_A, _S, _G, _C, _D = (
    Role.ADMINISTRATOR,
    Role.SUPERVISOR,
    Role.AGENT,
    Role.COMPLIANCE_OFFICER,
    Role.DEVELOPER,
)

# Administrators manage accounts and metadata but never read conversation content;
# compliance officers reach content only through the archive.
MATRIX: dict[Capability, frozenset[Role]] = {
    Capability.READ_CONVERSATIONS: frozenset({_S, _G, _D}),
    Capability.MANAGE_STAFF: frozenset({_A}),
    Capability.MANAGE_AGENTS: frozenset({_A, _S}),
    Capability.VIEW_STAFF: frozenset({_A, _S}),
    Capability.VIEW_ARCHIVE: frozenset({_C}),
    Capability.MANAGE_RETENTION: frozenset({_C}),
    # The archive's metadata and settings (files, policies, verification), never content.
    Capability.VIEW_ARCHIVE_STATUS: frozenset({_A, _C}),
    Capability.MANAGE_API_TOKENS: frozenset({_A, _D}),
    Capability.MANAGE_WEBHOOKS: frozenset({_A, _D}),
    Capability.VIEW_BILLING: frozenset({_A, _D}),
    Capability.MANAGE_BILLING: frozenset({_A}),
    Capability.MANAGE_NUMBERS: frozenset({_A}),
    Capability.VIEW_NUMBERS: frozenset({_A, _D}),
    Capability.VIEW_AUDIT_LOG: frozenset({_A, _C}),
    Capability.SUPERVISE_QUEUES: frozenset({_A, _S}),
    Capability.VIEW_SECURITY_HEALTH: frozenset({_A}),
    Capability.MANAGE_CLOCK: frozenset({_A, _D}),
    # Metadata and prices of every message; the text only with READ_CONVERSATIONS.
    Capability.VIEW_MESSAGE_LOG: frozenset({_A, _D}),
    # Sending is writing content: the roles that read it.
    Capability.SEND_MESSAGES: frozenset({_S, _G, _D}),
    Capability.MANAGE_TEMPLATES: frozenset({_A, _D}),
    # Simulated customers' phones (test data a developer drives, not real conversations).
    Capability.DRIVE_CUSTOMERS: frozenset({_A, _D}),
}


def role_can(role: Role | str, capability: Capability) -> bool:
    return Role(role) in MATRIX[capability]


def capabilities_of(role: Role | str) -> frozenset[Capability]:
    return frozenset(c for c, roles in MATRIX.items() if Role(role) in roles)


# Capabilities an API token can carry: those with endpoints a token reaches. A token holds the
# ones chosen when it was made, never one its creator's role lacked.
TOKEN_SCOPES: tuple[Capability, ...] = (
    Capability.VIEW_NUMBERS,
    Capability.MANAGE_NUMBERS,
    Capability.VIEW_BILLING,
    Capability.MANAGE_BILLING,
    Capability.MANAGE_WEBHOOKS,
    Capability.READ_CONVERSATIONS,
    Capability.MANAGE_CLOCK,
    Capability.SEND_MESSAGES,
    Capability.MANAGE_TEMPLATES,
    Capability.DRIVE_CUSTOMERS,
    # /parley/v1/routing/…: queues, sessions, statistics; agents' routing profiles.
    Capability.SUPERVISE_QUEUES,
    Capability.MANAGE_AGENTS,
    # /parley/v1/archive/…: files, policies and verification (administrators' tokens may
    # carry it); content and retention, only ever from a role that holds them (compliance
    # officers, who may not make tokens: they use the archive API with their console session).
    Capability.VIEW_ARCHIVE_STATUS,
    Capability.VIEW_ARCHIVE,
    Capability.MANAGE_RETENTION,
)


def token_scopes_of(role: Role | str) -> list[Capability]:
    """The scopes an account of `role` may give a token it creates, in TOKEN_SCOPES order."""
    held = capabilities_of(role)
    return [c for c in TOKEN_SCOPES if c in held]


def assignable_roles(by: Role | str) -> list[Role]:
    """Roles an account of role `by` may hand out (only to accounts it may manage)."""
    actor = Role(by)
    if role_can(actor, Capability.MANAGE_STAFF):
        return [r for r in Role if RANK[r] <= RANK[actor]]
    if role_can(actor, Capability.MANAGE_AGENTS):
        return [Role.AGENT]
    return []


def may_manage(actor: Role | str, target: Role | str) -> bool:
    """May an account of role `actor` change an account that has role `target`?"""
    actor, target = Role(actor), Role(target)
    if role_can(actor, Capability.MANAGE_STAFF):
        return RANK[target] <= RANK[actor]
    if role_can(actor, Capability.MANAGE_AGENTS):
        return target == Role.AGENT
    return False


def matrix_markdown() -> str:
    """The matrix as the Markdown table the README carries (a test keeps them equal)."""
    roles = list(Role)
    head = "| Capability | " + " | ".join(r.label for r in roles) + " |"
    rule = "|---|" + "---|" * len(roles)
    rows = [
        "| " + c.label + " | " + " | ".join("yes" if r in MATRIX[c] else "—" for r in roles) + " |"
        for c in Capability
    ]
    return "\n".join([head, rule, *rows])
