"""Staff login with two factors: password, then a TOTP code unless the browser is a device
the user already verified (device binding). Failures are throttled per address and lock the
account after repeated failures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser, TrustedDevice
from parley.core import clock, ratelimit
from parley.core.crypto import decrypt_text, encrypt_text, token_digest
from parley.core.errors import AccountLocked, AuthenticationFailed, InvalidParameter

BAD_CREDENTIALS = "The email address or password is incorrect."
BAD_CODE = "That code is not valid. Check your authenticator app and try again."


@dataclasses.dataclass(frozen=True)
class PasswordResult:
    user: StaffUser
    # True when the browser presented a trusted-device cookie of this user: login is complete.
    device_trusted: bool


def _throttle(ip_address: str | None) -> None:
    ratelimit.hit(
        f"login:{ip_address or 'unknown'}",
        limit=settings.PARLEY["LOGIN_RATE_PER_MINUTE"],
        window_seconds=60,
    )


def _locked_for(user: StaffUser, now: dt.datetime) -> int:
    if user.locked_until and user.locked_until > now:
        return int((user.locked_until - now).total_seconds()) + 1
    return 0


def _record_failure(user: StaffUser, ip_address: str | None, reason: str) -> None:
    """Count one failure; lock the account when the count reaches the limit in the window."""
    cfg = settings.PARLEY
    now = clock.now()
    with transaction.atomic():
        fresh = StaffUser.objects.select_for_update().get(pk=user.pk)
        window = dt.timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"])
        if fresh.first_failure_at is None or now - fresh.first_failure_at > window:
            fresh.failed_logins, fresh.first_failure_at = 0, now
        fresh.failed_logins += 1
        do_record_audit(
            "login.failed",
            business_id=fresh.business_id,
            actor_label=fresh.email,
            target=fresh.email,
            details={"reason": reason, "failures": fresh.failed_logins},
            ip_address=ip_address,
        )
        if fresh.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
            fresh.locked_until = now + dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
            fresh.failed_logins, fresh.first_failure_at = 0, None
            do_record_audit(
                "login.locked_out",
                business_id=fresh.business_id,
                actor_label=fresh.email,
                target=fresh.email,
                details={"until": fresh.locked_until.isoformat()},
                ip_address=ip_address,
            )
        fresh.save(update_fields=["failed_logins", "first_failure_at", "locked_until"])


def _clear_failures(user: StaffUser) -> None:
    StaffUser.objects.filter(pk=user.pk).update(
        failed_logins=0, first_failure_at=None, locked_until=None
    )


def _device_for(user: StaffUser, device_token: str | None) -> TrustedDevice | None:
    if not device_token:
        return None
    return TrustedDevice.objects.filter(
        user=user,
        token_hash=token_digest(device_token),
        revoked_at=None,
        expires_at__gt=clock.now(),
    ).first()


def do_check_password(
    email: str, password: str, *, ip_address: str | None, device_token: str | None
) -> PasswordResult:
    """First factor. Raises AuthenticationFailed, AccountLocked or RateLimited."""
    _throttle(ip_address)
    user = StaffUser.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        make_password(password)  # same work as a real check, so timing tells nothing
        do_record_audit(
            "login.failed",
            business_id=None,
            actor_label=email.strip()[:254],
            details={"reason": "unknown account"},
            ip_address=ip_address,
        )
        raise AuthenticationFailed(BAD_CREDENTIALS)
    locked = _locked_for(user, clock.now())
    if locked:
        raise AccountLocked(
            f"This account is locked after repeated failed logins. Try again in "
            f"{max(1, locked // 60)} minute(s).",
            until_seconds=locked,
        )
    if not user.check_password(password) or not user.is_active:
        _record_failure(user, ip_address, "password" if user.is_active else "inactive account")
        raise AuthenticationFailed(BAD_CREDENTIALS)
    device = _device_for(user, device_token)
    if device is not None and user.two_factor_enrolled:
        _complete_login(user, ip_address, method="trusted device", device=device)
        return PasswordResult(user, device_trusted=True)
    return PasswordResult(user, device_trusted=False)


def _complete_login(
    user: StaffUser, ip_address: str | None, *, method: str, device: TrustedDevice | None
) -> None:
    now = clock.now()
    with transaction.atomic():
        _clear_failures(user)
        StaffUser.objects.filter(pk=user.pk).update(last_login=now)
        if device is not None:
            TrustedDevice.objects.filter(pk=device.pk).update(last_used_at=now)
        do_record_audit(
            "login.succeeded",
            business_id=user.business_id,
            actor=user,
            target=user.email,
            details={"second_factor": method},
            ip_address=ip_address,
        )


def do_begin_enrolment(user: StaffUser) -> str:
    """Give the user a TOTP seed to add to their authenticator (kept until confirmed)."""
    if user.two_factor_enrolled:
        raise InvalidParameter("Two-factor authentication is already set up.")
    if not user.totp_secret_encrypted:
        user.totp_secret_encrypted = encrypt_text(pyotp.random_base32())
        user.save(update_fields=["totp_secret_encrypted"])
    return decrypt_text(user.totp_secret_encrypted)


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Parley")


def _accept_code(user: StaffUser, code: str) -> bool:
    """Check a TOTP code (one step of clock drift either way), refusing replays."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6) or not user.totp_secret_encrypted:
        return False
    totp = pyotp.TOTP(decrypt_text(user.totp_secret_encrypted))
    now = clock.now()
    for drift in (0, -1, 1):
        at = now + dt.timedelta(seconds=30 * drift)
        if secrets.compare_digest(totp.at(at), code):
            step = int(at.timestamp()) // 30
            # Conditional update: two concurrent uses of one code cannot both pass.
            return bool(
                StaffUser.objects.filter(pk=user.pk, last_totp_step__lt=step).update(
                    last_totp_step=step
                )
            )
    return False


def do_verify_second_factor(
    user: StaffUser, code: str, *, ip_address: str | None, user_agent: str = ""
) -> str:
    """Second factor. On success, trusts this browser and returns the device token to set as
    its cookie; confirms enrolment on first use."""
    _throttle(ip_address)
    fresh = StaffUser.objects.get(pk=user.pk)
    locked = _locked_for(fresh, clock.now())
    if locked:
        raise AccountLocked(
            "This account is locked after repeated failed logins.", until_seconds=locked
        )
    if not fresh.is_active:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if not _accept_code(fresh, code):
        _record_failure(fresh, ip_address, "verification code")
        raise AuthenticationFailed(BAD_CODE)
    now = clock.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        if not fresh.two_factor_enrolled:
            StaffUser.objects.filter(pk=fresh.pk).update(totp_confirmed_at=now)
            do_record_audit(
                "two_factor.enrolled",
                business_id=fresh.business_id,
                actor=fresh,
                target=fresh.email,
                ip_address=ip_address,
            )
        device = TrustedDevice.objects.create(
            user=fresh,
            token_hash=token_digest(token),
            label=user_agent[:200],
            ip_address=ip_address,
            created_at=now,
            last_used_at=now,
            expires_at=now + dt.timedelta(days=settings.PARLEY["TRUSTED_DEVICE_DAYS"]),
        )
        do_record_audit(
            "device.trusted",
            business_id=fresh.business_id,
            actor=fresh,
            target=fresh.email,
            details={"device": device.pk, "label": device.label[:80]},
            ip_address=ip_address,
        )
        _complete_login(fresh, ip_address, method="totp", device=None)
    return token


def do_revoke_device(user: StaffUser, device_id: int, *, ip_address: str | None) -> None:
    with transaction.atomic():
        updated = TrustedDevice.objects.filter(pk=device_id, user=user, revoked_at=None).update(
            revoked_at=clock.now()
        )
        if updated:
            do_record_audit(
                "device.revoked",
                business_id=user.business_id,
                actor=user,
                target=user.email,
                details={"device": device_id},
                ip_address=ip_address,
            )
