"""Business phone numbers: add, request a code, verify it, register with a two-step PIN,
deregister, and official (verified business) status."""

from __future__ import annotations

import datetime as dt
import functools
import secrets

import phonenumbers
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import Business, NumberVerificationCode, PhoneNumber, StaffUser
from parley.accounts.roles import Capability
from parley.core import clock, ratelimit
from parley.core.crypto import encrypt_text
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.core.events import (
    NumberQualityChanged,
    NumberStatusChanged,
    VerificationCodeDelivered,
)
from parley.core.publish import publish
from parley.core.queue import enqueue


@functools.lru_cache(maxsize=8192)
def parse_e164(raw: str) -> tuple[str, str]:
    """Normalise a number to E.164 and derive its country; reject anything not dialable.
    (Pure, and on every send's path: remembered.)"""
    text = (raw or "").strip()
    try:
        parsed = phonenumbers.parse(text if text.startswith("+") else f"+{text}", None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidParameter(f"'{raw}' is not a phone number.", field="phone_number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidParameter(
            f"'{raw}' is not a valid phone number for any country.", field="phone_number"
        )
    region = phonenumbers.region_code_for_number(parsed) or "001"  # 001: non-geographic
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), region


def display_number(e164: str) -> str:
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def announce_status(number: PhoneNumber) -> None:
    """Publish the number's status (a registered number gets its endpoint from it)."""
    publish(
        NumberStatusChanged(
            business_id=number.business_id,
            occurred_at=clock.now(),
            number_id=number.pk,
            display_phone_number=display_number(number.e164),
            status=number.status,
            official_verification=number.official_verification,
        )
    )


def do_add_number(
    actor: StaffUser, *, phone_number: str, display_name: str, ip_address: str | None = None
) -> PhoneNumber:
    if not actor.can(Capability.MANAGE_NUMBERS):
        raise PermissionDenied("You may not add business numbers.")
    e164, region = parse_e164(phone_number)
    name = display_name.strip()
    if not 3 <= len(name) <= 100:
        raise InvalidParameter("The display name needs 3 to 100 characters.", field="display_name")
    try:
        with transaction.atomic():
            number = PhoneNumber.objects.create(
                business=actor.business,
                e164=e164,
                country=region,
                display_name=name,
                created_at=clock.now(),
            )
            do_record_audit(
                "number.added",
                business_id=actor.business_id,
                actor=actor,
                target=e164,
                ip_address=ip_address,
            )
            announce_status(number)
    except IntegrityError as exc:
        raise Conflict("This number is already on the platform.", field="phone_number") from exc
    return number


def _locked_number(business: Business, number_id: int) -> PhoneNumber:
    number = PhoneNumber.objects.select_for_update().filter(pk=number_id, business=business).first()
    if number is None:
        raise NotFound(f"Unsupported request - phone number {number_id} does not exist.")
    return number


def do_request_code(
    business: Business,
    number_id: int,
    *,
    method: str,
    language: str = "en_US",
    actor_label: str = "api",
    ip_address: str | None = None,
) -> NumberVerificationCode:
    """Ask the simulated carrier to deliver a registration code by SMS or voice call."""
    method = (method or "").upper()
    if method not in {"SMS", "VOICE"}:
        raise InvalidParameter("code_method must be SMS or VOICE.", field="code_method")
    ratelimit.hit(f"number-code:{number_id}", limit=10, window_seconds=3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = clock.now()
    with transaction.atomic():
        number = _locked_number(business, number_id)
        # A new code replaces any code still outstanding.
        NumberVerificationCode.objects.filter(number=number, used_at=None).update(used_at=now)
        record = NumberVerificationCode.objects.create(
            number=number,
            method=method,
            language=language[:16],
            code_hash=make_password(code),
            code_encrypted=encrypt_text(code),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=settings.PARLEY["VERIFICATION_CODE_TTL_SECONDS"]),
        )
        do_record_audit(
            "number.code_requested",
            business_id=business.pk,
            actor_label=actor_label,
            target=number.e164,
            details={"method": method},
            ip_address=ip_address,
        )
        transaction.on_commit(
            lambda: enqueue("parley.accounts.tasks.deliver_verification_code", record.pk)
        )
    return record


def do_deliver_code(code_id: int) -> bool:
    """The simulated carrier hands the code to the number (run by a Celery worker)."""
    with transaction.atomic():
        record = (
            NumberVerificationCode.objects.select_for_update()
            .select_related("number")
            .filter(pk=code_id, delivered_at=None)
            .first()
        )
        if record is None:
            return False
        record.delivered_at = clock.now()
        record.save(update_fields=["delivered_at"])
        number = record.number
        publish(
            VerificationCodeDelivered(
                business_id=number.business_id,
                occurred_at=record.delivered_at,
                number_id=number.pk,
                display_phone_number=display_number(number.e164),
                method=record.method,
            )
        )
    return True


def do_verify_code(
    business: Business,
    number_id: int,
    *,
    code: str,
    actor_label: str = "api",
    ip_address: str | None = None,
) -> None:
    code = (code or "").strip()
    now = clock.now()
    with transaction.atomic():
        number = _locked_number(business, number_id)
        record = (
            NumberVerificationCode.objects.select_for_update()
            .filter(number=number, used_at=None)
            .order_by("-created_at")
            .first()
        )
        if record is None or record.expires_at <= now:
            if record is not None:
                number.code_verification_status = PhoneNumber.CodeStatus.EXPIRED
                number.save(update_fields=["code_verification_status"])
            raise InvalidParameter("No valid code is outstanding: request a new code.")
        if record.attempts >= settings.PARLEY["VERIFICATION_CODE_MAX_ATTEMPTS"]:
            raise InvalidParameter("Too many wrong codes: request a new code.")
        if not (code.isdigit() and len(code) == 6 and check_password(code, record.code_hash)):
            NumberVerificationCode.objects.filter(pk=record.pk).update(attempts=record.attempts + 1)
            raise_after_commit = True
        else:
            raise_after_commit = False
            record.used_at = now
            record.save(update_fields=["used_at"])
            number.code_verification_status = PhoneNumber.CodeStatus.VERIFIED
            number.save(update_fields=["code_verification_status"])
            do_record_audit(
                "number.code_verified",
                business_id=business.pk,
                actor_label=actor_label,
                target=number.e164,
                ip_address=ip_address,
            )
    if raise_after_commit:
        # The attempt counter is committed; the caller still learns the code was wrong.
        raise InvalidParameter("The code is incorrect.", field="code")


def do_register_number(
    business: Business,
    number_id: int,
    *,
    pin: str,
    actor_label: str = "api",
    ip_address: str | None = None,
) -> PhoneNumber:
    pin = (pin or "").strip()
    if not (pin.isdigit() and len(pin) == 6):
        raise InvalidParameter("pin must be a 6-digit number.", field="pin")
    with transaction.atomic():
        number = _locked_number(business, number_id)
        if number.code_verification_status != PhoneNumber.CodeStatus.VERIFIED:
            raise InvalidParameter("Verify the number with a code before registering it.")
        # Re-registration must repeat the two-step PIN already set.
        if number.pin_hash and not check_password(pin, number.pin_hash):
            raise InvalidParameter("The two-step verification PIN is incorrect.", field="pin")
        number.pin_hash = number.pin_hash or make_password(pin)
        number.status = PhoneNumber.Status.CONNECTED
        number.registered_at = clock.now()
        number.save(update_fields=["pin_hash", "status", "registered_at"])
        do_record_audit(
            "number.registered",
            business_id=business.pk,
            actor_label=actor_label,
            target=number.e164,
            ip_address=ip_address,
        )
        announce_status(number)
    return number


def do_deregister_number(
    business: Business, number_id: int, *, actor_label: str = "api", ip_address: str | None = None
) -> PhoneNumber:
    with transaction.atomic():
        number = _locked_number(business, number_id)
        number.status = PhoneNumber.Status.DISCONNECTED
        number.save(update_fields=["status"])
        do_record_audit(
            "number.deregistered",
            business_id=business.pk,
            actor_label=actor_label,
            target=number.e164,
            ip_address=ip_address,
        )
        announce_status(number)
    return number


def do_request_official_verification(
    actor: StaffUser, number_id: int, *, ip_address: str | None = None
) -> PhoneNumber:
    if not actor.can(Capability.MANAGE_NUMBERS):
        raise PermissionDenied("You may not request official verification.")
    with transaction.atomic():
        number = _locked_number(actor.business, number_id)
        if number.official_verification != PhoneNumber.Official.UNVERIFIED:
            raise Conflict(f"This number is already {number.official_verification}.")
        if number.status != PhoneNumber.Status.CONNECTED:
            raise InvalidParameter("Register the number before asking for official verification.")
        number.official_verification = PhoneNumber.Official.PENDING
        number.official_requested_at = clock.now()
        number.save(update_fields=["official_verification", "official_requested_at"])
        do_record_audit(
            "number.official_requested",
            business_id=actor.business_id,
            actor=actor,
            target=number.e164,
            ip_address=ip_address,
        )
        announce_status(number)
    return number


def do_review_official_verification(number_id: int, *, approve: bool) -> PhoneNumber:
    """The platform operator's decision on a pending official-verification request."""
    with transaction.atomic():
        number = PhoneNumber.objects.select_for_update().filter(pk=number_id).first()
        if number is None:
            raise NotFound(f"Phone number {number_id} does not exist.")
        if number.official_verification != PhoneNumber.Official.PENDING:
            raise Conflict("Only a pending request can be reviewed.")
        number.official_verification = (
            PhoneNumber.Official.VERIFIED if approve else PhoneNumber.Official.UNVERIFIED
        )
        number.save(update_fields=["official_verification"])
        do_record_audit(
            "number.official_approved" if approve else "number.official_declined",
            business_id=number.business_id,
            actor_label="platform operator",
            target=number.e164,
        )
        announce_status(number)
    return number


def do_expire_codes() -> int:
    now = clock.now()
    with transaction.atomic():
        expired = NumberVerificationCode.objects.filter(used_at=None, expires_at__lte=now)
        numbers = list(expired.values_list("number_id", flat=True).distinct())
        count = expired.update(used_at=now)
        PhoneNumber.objects.filter(
            pk__in=numbers, code_verification_status=PhoneNumber.CodeStatus.NOT_VERIFIED
        ).update(code_verification_status=PhoneNumber.CodeStatus.EXPIRED)
    return count


def do_set_throughput(
    business: Business,
    number_id: int,
    *,
    level: str,
    actor_label: str = "api",
    ip_address: str | None = None,
) -> PhoneNumber:
    """Move a number to a throughput level. An upgrade to HIGH takes
    PARLEY["THROUGHPUT_UPGRADE_SECONDS"] of simulated time, during which its sends fail with
    131057 (as the platform's does); a move back to STANDARD is immediate."""
    if level not in PhoneNumber.Throughput.values:
        raise InvalidParameter(
            f"level must be one of {', '.join(PhoneNumber.Throughput.values)}.", field="level"
        )
    now = clock.now()
    with transaction.atomic():
        number = _locked_number(business, number_id)
        if number.throughput_level == level:
            return number
        number.throughput_level = level
        number.throughput_upgrading_until = (
            now + dt.timedelta(seconds=float(settings.PARLEY["THROUGHPUT_UPGRADE_SECONDS"]))
            if level == PhoneNumber.Throughput.HIGH
            else None
        )
        number.save(update_fields=["throughput_level", "throughput_upgrading_until"])
        do_record_audit(
            "number.throughput_changed",
            business_id=business.pk,
            actor_label=actor_label,
            target=number.e164,
            ip_address=ip_address,
            details={"level": level},
        )
    return number


def do_set_quality_rating(
    business: Business,
    number_id: int,
    *,
    rating: str,
    actor_label: str = "api",
    ip_address: str | None = None,
    from_blocks: bool = False,
) -> PhoneNumber:
    """Set a number's quality rating (what the platform decides from customers' feedback,
    on demand). A change is audited and published as `number.quality_changed`; a RED number
    holds its portfolio's messaging limit where it is. `from_blocks`: the platform's own
    rating from customers' blocks (parley.messaging.quality), which it may raise again by
    itself; a rating set otherwise stays until set again."""
    if rating not in PhoneNumber.Quality.values:
        raise InvalidParameter(
            f"rating must be one of {', '.join(PhoneNumber.Quality.values)}.", field="rating"
        )
    with transaction.atomic():
        number = _locked_number(business, number_id)
        previous = number.quality_rating
        if previous == rating:
            if number.quality_from_blocks and not from_blocks:
                number.quality_from_blocks = False  # set by hand now: it stays
                number.save(update_fields=["quality_from_blocks"])
            return number
        number.quality_rating = rating
        number.quality_from_blocks = from_blocks
        number.save(update_fields=["quality_rating", "quality_from_blocks"])
        red = PhoneNumber.Quality.RED
        event = "FLAGGED" if rating == red else "UNFLAGGED" if previous == red else ""
        publish(
            NumberQualityChanged(
                business_id=business.pk,
                occurred_at=clock.now(),
                number_id=number.pk,
                display_phone_number=display_number(number.e164),
                quality_rating=rating,
                previous_quality_rating=previous,
                event=event,
                current_limit=business.messaging_limit_tier,
            )
        )
        do_record_audit(
            "number.quality_changed",
            business_id=business.pk,
            actor_label=actor_label,
            target=number.e164,
            ip_address=ip_address,
            details={"rating": rating, "previous": previous},
        )
    return number


def do_set_messaging_limit(
    business: Business,
    *,
    tier: str,
    actor_label: str = "api",
    ip_address: str | None = None,
    reason: str = "",
) -> Business:
    """Move a business portfolio to a messaging limit tier (the simulator's or the console's
    say, or the platform's automatic upgrade); audited when it changes."""
    if tier not in Business.MessagingLimit.values:
        raise InvalidParameter(
            f"tier must be one of {', '.join(Business.MessagingLimit.values)}.", field="tier"
        )
    with transaction.atomic():
        locked = Business.objects.select_for_update().get(pk=business.pk)
        previous = locked.messaging_limit_tier
        if previous != tier:
            locked.messaging_limit_tier = tier
            locked.save(update_fields=["messaging_limit_tier"])
            details = {"tier": tier, "previous": previous} | ({"reason": reason} if reason else {})
            do_record_audit(
                "business.messaging_limit_changed",
                business_id=locked.pk,
                actor_label=actor_label,
                target=str(locked.pk),
                ip_address=ip_address,
                details=details,
            )
    business.messaging_limit_tier = locked.messaging_limit_tier
    return locked
