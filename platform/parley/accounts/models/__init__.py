from parley.accounts.models.audit import AuditChainHead, AuditEntry
from parley.accounts.models.numbers import NumberVerificationCode, PhoneNumber
from parley.accounts.models.staff import StaffUser, TrustedDevice
from parley.accounts.models.tenants import Business
from parley.accounts.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEntry",
    "Business",
    "NumberVerificationCode",
    "PhoneNumber",
    "StaffUser",
    "TrustedDevice",
]
