from __future__ import annotations

from django.db import models

from parley.accounts.models.staff import StaffUser
from parley.accounts.models.tenants import Business
from parley.accounts.roles import TOKEN_SCOPES, Capability


class ApiToken(models.Model):
    """A Business API access token. Only its SHA-256 is stored; the secret is shown once.
    It acts with the capabilities (scopes) chosen at creation, never more than its creator's
    role held then."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to tell tokens apart")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, help_text="Capability names the token holds")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        StaffUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def capabilities(self) -> frozenset[Capability]:
        known = {c.value for c in Capability}
        scopes = self.scopes if isinstance(self.scopes, list) else []
        return frozenset(Capability(s) for s in scopes if s in known)

    @property
    def scope_labels(self) -> list[str]:
        held = self.capabilities
        return [c.label for c in TOKEN_SCOPES if c in held]

    def can(self, capability: Capability) -> bool:
        return self.is_active and capability in self.capabilities
