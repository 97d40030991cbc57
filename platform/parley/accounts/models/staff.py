from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.db import models

from parley.accounts.models.tenants import Business
from parley.accounts.roles import Capability, Role, role_can


class StaffUserManager(BaseUserManager["StaffUser"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> StaffUser:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user


class StaffUser(AbstractBaseUser):
    """A member of a business's staff. Exactly one business, exactly one role."""

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="staff")
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=32, choices=[(r.value, r.label) for r in Role])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Two-factor: the confirmed TOTP seed, encrypted at rest (empty until enrolment is
    # confirmed; seeds being set up live in TwoFactorEnrolment).
    totp_secret_encrypted = models.TextField(blank=True, default="")
    totp_confirmed_at = models.DateTimeField(null=True, blank=True)
    last_totp_step = models.BigIntegerField(default=0, help_text="Blocks code replay")

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    objects = StaffUserManager()

    class Meta:
        ordering = ["full_name", "email"]
        indexes = [models.Index(fields=["business", "role"])]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def can(self, capability: Capability) -> bool:
        return self.is_active and role_can(self.role, capability)

    @property
    def two_factor_enrolled(self) -> bool:
        return self.totp_confirmed_at is not None


class TrustedDevice(models.Model):
    """A browser that completed two-factor login; presenting its cookie skips the code."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="devices")
    token_hash = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_used_at"]


class TwoFactorEnrolment(models.Model):
    """One attempt to set up two-factor authentication: a fresh seed bound to the browser
    session that passed the password step (which holds the attempt's random id). Only the
    seed of the attempt that proves a code becomes the account's."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="+")
    attempt_hash = models.CharField(max_length=64, unique=True)
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]


class LoginFailures(models.Model):
    """Failed logins counted per submitted email address, whether or not an account has it,
    so that a locked address answers alike for real and unknown accounts."""

    address_hash = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(db_index=True)
