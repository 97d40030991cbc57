"""Staff login with two factors: password, then a TOTP code unless the browser is a device
the user already verified (device binding). Failures are throttled per client address and
counted per submitted email address (whether or not an account has it), locking that address
after repeated failures: real and unknown accounts answer alike."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import LoginFailures, StaffUser, TrustedDevice, TwoFactorEnrolment
from parley.core import clock, ratelimit
from parley.core.crypto import decrypt_text, encrypt_text, token_digest
from parley.core.errors import AccountLocked, AuthenticationFailed, InvalidParameter

BAD_CREDENTIALS = "The email address or password is incorrect."
BAD_CODE = "That code is not valid. Check your authenticator app and try again."
# An enrolment attempt lives as long as a browser may sit on the setup page.
ENROLMENT_SECONDS = 600


@dataclasses.dataclass(frozen=True)
class PasswordResult:
    user: StaffUser
    # True when the browser presented a trusted-device cookie of this user: login is complete.
    device_trusted: bool


@dataclasses.dataclass(frozen=True)
class EnrolmentAttempt:
    attempt: str  # kept in the browser's session; only its digest is stored
    secret: str


def _throttle(ip_address: str | None) -> None:
    ratelimit.hit(
        f"login:{ip_address or 'unknown'}",
        limit=settings.PARLEY["LOGIN_RATE_PER_MINUTE"],
        window_seconds=60,
    )


def _address(email: str) -> str:
    return email.strip().lower()[:254]


def _address_hash(email: str) -> str:
    return token_digest(_address(email))


def _locked(email: str) -> AccountLocked | None:
    """The error to answer while `email` is locked out, the same for every address."""
    now = clock.now()
    row = LoginFailures.objects.filter(address_hash=_address_hash(email)).first()
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    seconds = int((row.locked_until - now).total_seconds()) + 1
    return AccountLocked(
        "Too many failed attempts for this email address. Try again in "
        f"{max(1, -(-seconds // 60))} minute(s).",
        until_seconds=seconds,
    )


def _record_failure(
    email: str, user: StaffUser | None, ip_address: str | None, reason: str
) -> None:
    """Count one failure for the address; lock it when the count reaches the limit in the
    window. The same work and the same outcome whether or not an account has the address."""
    cfg = settings.PARLEY
    now = clock.now()
    address = _address(email)

    def audit(action: str, details: dict[str, object]) -> None:
        do_record_audit(
            action,
            business_id=user.business_id if user else None,
            actor_label=address,
            target=user.email if user else "",
            details=details,
            ip_address=ip_address,
        )

    with transaction.atomic():
        LoginFailures.objects.get_or_create(
            address_hash=token_digest(address), defaults={"updated_at": now}
        )
        row = LoginFailures.objects.select_for_update().get(address_hash=token_digest(address))
        window = dt.timedelta(seconds=cfg["LOGIN_FAILURE_WINDOW_SECONDS"])
        if row.first_failure_at is None or now - row.first_failure_at > window:
            row.failures, row.first_failure_at = 0, now
        row.failures += 1
        audit("login.failed", {"reason": reason, "failures": row.failures})
        if row.failures >= cfg["LOGIN_MAX_FAILURES"]:
            row.locked_until = now + dt.timedelta(seconds=cfg["LOGIN_LOCKOUT_SECONDS"])
            row.failures, row.first_failure_at = 0, None
            audit("login.locked_out", {"until": row.locked_until.isoformat()})
        row.updated_at = now
        row.save()


def _clear_failures(email: str) -> None:
    LoginFailures.objects.filter(address_hash=_address_hash(email)).delete()


def do_purge_login_failures() -> int:
    """Forget counters whose window and lockout are both over."""
    cfg = settings.PARLEY
    horizon = max(cfg["LOGIN_FAILURE_WINDOW_SECONDS"], cfg["LOGIN_LOCKOUT_SECONDS"])
    now = clock.now()
    deleted, _ = LoginFailures.objects.filter(
        updated_at__lt=now - dt.timedelta(seconds=horizon)
    ).delete()
    stale = now - dt.timedelta(seconds=ENROLMENT_SECONDS)
    TwoFactorEnrolment.objects.filter(created_at__lt=stale).delete()
    return deleted


def _device_for(user: StaffUser, device_token: str | None) -> TrustedDevice | None:
    if not device_token or len(device_token) > 200:
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
    locked = _locked(email)
    if locked is not None:
        raise locked
    user = StaffUser.objects.filter(email__iexact=_address(email)).first()
    if user is None:
        make_password(password)  # the hasher's work, as for a real account
        _record_failure(email, None, ip_address, "unknown account")
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if not user.check_password(password) or not user.is_active:
        reason = "password" if user.is_active else "inactive account"
        _record_failure(email, user, ip_address, reason)
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
        _clear_failures(user.email)
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


def do_begin_enrolment(user: StaffUser) -> EnrolmentAttempt:
    """A fresh TOTP seed for one enrolment attempt. The caller keeps `attempt` in the
    browser's session; the seed is valid only through that attempt until confirmed."""
    if StaffUser.objects.filter(pk=user.pk, totp_confirmed_at__isnull=False).exists():
        raise InvalidParameter("Two-factor authentication is already set up.")
    now = clock.now()
    attempt = secrets.token_urlsafe(32)
    secret = pyotp.random_base32()
    with transaction.atomic():
        TwoFactorEnrolment.objects.filter(
            user=user, created_at__lt=now - dt.timedelta(seconds=ENROLMENT_SECONDS)
        ).delete()
        TwoFactorEnrolment.objects.create(
            user=user,
            attempt_hash=token_digest(attempt),
            secret_encrypted=encrypt_text(secret),
            created_at=now,
        )
    return EnrolmentAttempt(attempt, secret)


def _live_enrolment(user: StaffUser, attempt: str | None) -> TwoFactorEnrolment | None:
    if not attempt or len(attempt) > 200:
        return None
    return TwoFactorEnrolment.objects.filter(
        user=user,
        attempt_hash=token_digest(attempt),
        created_at__gte=clock.now() - dt.timedelta(seconds=ENROLMENT_SECONDS),
    ).first()


def get_enrolment_secret(user: StaffUser, attempt: str | None) -> str | None:
    """The seed of a live enrolment attempt of `user` (None when there is none)."""
    enrolment = _live_enrolment(user, attempt)
    return decrypt_text(enrolment.secret_encrypted) if enrolment else None


def get_latest_enrolment_secret(user: StaffUser) -> str | None:
    """The seed of the user's newest live enrolment attempt (for `manage.py twofactor_code`)."""
    enrolment = (
        TwoFactorEnrolment.objects.filter(
            user=user, created_at__gte=clock.now() - dt.timedelta(seconds=ENROLMENT_SECONDS)
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    return decrypt_text(enrolment.secret_encrypted) if enrolment else None


def provisioning_uri(user: StaffUser, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Parley")


def _matching_step(secret: str, code: str) -> int | None:
    """The 30-second step whose code is `code` (one step of clock drift either way)."""
    code = code.strip().replace(" ", "")
    # ASCII only: other scripts' digits pass isdigit() but are never a TOTP code.
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for drift in (0, -1, 1):
        at = now + dt.timedelta(seconds=30 * drift)
        if secrets.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // 30
    return None


def _accept_code(user: StaffUser, code: str, enrolment: TwoFactorEnrolment | None) -> bool:
    """Check a code against the confirmed seed, or (not yet enrolled) against the seed of
    this session's enrolment attempt, which it then confirms. Refuses replays."""
    if user.two_factor_enrolled:
        step = _matching_step(decrypt_text(user.totp_secret_encrypted), code)
        # Conditional update: two concurrent uses of one code cannot both pass.
        return step is not None and bool(
            StaffUser.objects.filter(pk=user.pk, last_totp_step__lt=step).update(
                last_totp_step=step
            )
        )
    if enrolment is None:
        return False
    step = _matching_step(decrypt_text(enrolment.secret_encrypted), code)
    if step is None:
        return False
    # Only while nobody confirmed another attempt first.
    confirmed = StaffUser.objects.filter(pk=user.pk, totp_confirmed_at=None).update(
        totp_secret_encrypted=enrolment.secret_encrypted,
        totp_confirmed_at=clock.now(),
        last_totp_step=step,
    )
    TwoFactorEnrolment.objects.filter(user=user).delete()
    return bool(confirmed)


def do_verify_second_factor(
    user: StaffUser,
    code: str,
    *,
    ip_address: str | None,
    user_agent: str = "",
    enrolment_attempt: str | None = None,
) -> str:
    """Second factor. On success, trusts this browser and returns the device token to set as
    its cookie. An account not yet enrolled proves a code of its session's enrolment attempt
    (`enrolment_attempt`), which confirms that attempt's seed."""
    _throttle(ip_address)
    fresh = StaffUser.objects.get(pk=user.pk)
    locked = _locked(fresh.email)
    if locked is not None:
        raise locked
    if not fresh.is_active:
        raise AuthenticationFailed(BAD_CREDENTIALS)
    now = clock.now()
    token = secrets.token_urlsafe(32)
    enrolling = not fresh.two_factor_enrolled
    with transaction.atomic():
        enrolment = _live_enrolment(fresh, enrolment_attempt) if enrolling else None
        accepted = _accept_code(fresh, code, enrolment)
        if accepted:
            if enrolling:
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
    if not accepted:
        _record_failure(fresh.email, fresh, ip_address, "verification code")
        raise AuthenticationFailed(BAD_CODE)
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
