from parley.accounts.models.audit import AuditChainHead, AuditEntry
from parley.accounts.models.numbers import BusinessProfile, NumberVerificationCode, PhoneNumber
from parley.accounts.models.staff import (
    LoginFailures,
    StaffUser,
    TrustedDevice,
    TwoFactorEnrolment,
)
from parley.accounts.models.tenants import Business
from parley.accounts.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEntry",
    "Business",
    "BusinessProfile",
    "LoginFailures",
    "NumberVerificationCode",
    "PhoneNumber",
    "StaffUser",
    "TrustedDevice",
    "TwoFactorEnrolment",
]
