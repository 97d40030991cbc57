"""Proving control of a handset number before it registers, as Signal's verification session
does: create a session for the number, have the simulated carrier text a code to it, check
the code the client read and submits. A registration then consumes the verified session
(`consume_verified_session`, called by `do_register_device`).

The session id is a bearer secret held by the client and stored as its SHA-256 digest; the
code is stored only as an HMAC bound to the session and compared in constant time. Codes are
short-lived, single-use and their checks are rate-limited per number."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction

from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import PhoneNumber
from parley.core import clock, ratelimit
from parley.core.crypto import encrypt_text, token_digest
from parley.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from parley.core.queue import enqueue
from parley.relay import conf
from parley.relay.errors import VerificationRequired
from parley.relay.models import CarrierSms, VerificationSession
from parley.relay.validation import VERIFICATION_CODE, VERIFICATION_SESSION_ID

SMS_SENDER = "Parley"


def sms_text(code: str) -> str:
    return f"Your Parley verification code: {code}. Do not share it with anyone."


@dataclasses.dataclass(frozen=True)
class NewSession:
    """A created session and its id (shown to the client once; only its digest is kept)."""

    id: str
    session: VerificationSession


def _code_key() -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"parley relay verification code"
    ).derive(settings.SECRET_KEY.encode())


def code_digest(session: VerificationSession, code: str) -> str:
    """Keyed hash of a code, bound to its session: a database copy alone does not let
    anyone test the million possible codes, nor use one session's code for another."""
    message = f"{session.id_digest}:{code}".encode()
    return hmac.new(_code_key(), message, hashlib.sha256).hexdigest()


def _seconds(name: str) -> dt.timedelta:
    return dt.timedelta(seconds=int(conf.get(name)))


def do_create_verification_session(number: str) -> NewSession:
    """Start verifying a handset number. Business numbers prove control through the Cloud
    API's registration and register on the relay with their business's API token."""
    e164, _ = parse_e164(number)
    if PhoneNumber.objects.filter(e164=e164).exists():
        raise PermissionDenied(
            f"{e164} is a business number: it registers with its business's API token."
        )
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    with transaction.atomic():
        session = VerificationSession.objects.create(
            id_digest=token_digest(secret),
            e164=e164,
            created_at=now,
            expires_at=now + _seconds("RELAY_VERIFICATION_SESSION_TTL_SECONDS"),
        )
    return NewSession(secret, session)


def _locked_session(session_id: str, now: dt.datetime) -> VerificationSession:
    session = None
    if VERIFICATION_SESSION_ID.fullmatch(session_id) is not None:
        session = (
            VerificationSession.objects.select_for_update()
            .filter(id_digest=token_digest(session_id))
            .first()
        )
    if session is None or session.expires_at <= now:
        raise NotFound("No such verification session (it may have expired): start a new one.")
    return session


def do_request_verification_code(session_id: str, *, transport: str = "sms") -> VerificationSession:
    """Send a new code for the session's number through the simulated carrier (a worker
    delivers the SMS). A new code voids the previous one. Rate-limited per number."""
    if transport != "sms":
        raise InvalidParameter("transport must be 'sms'.", field="transport")
    now = clock.now()
    with transaction.atomic():
        session = _locked_session(session_id, now)
        if session.verified_at is not None:
            raise Conflict("This session is already verified: register with it.")
        ratelimit.hit(
            f"relay:verify:codes:{session.e164}",
            limit=int(conf.get("RELAY_VERIFICATION_CODES_PER_NUMBER_PER_HOUR")),
            window_seconds=3600,
        )
        code = f"{secrets.randbelow(1_000_000):06d}"
        session.code_digest = code_digest(session, code)
        session.code_sent_at = now
        session.code_expires_at = min(
            now + _seconds("RELAY_VERIFICATION_CODE_TTL_SECONDS"), session.expires_at
        )
        session.attempts = 0
        session.save(update_fields=["code_digest", "code_sent_at", "code_expires_at", "attempts"])
        sms = CarrierSms.objects.create(
            e164=session.e164,
            sender=SMS_SENDER,
            body_encrypted=encrypt_text(sms_text(code)),
            sent_at=now,
            expires_at=session.code_expires_at,
        )
        transaction.on_commit(lambda: enqueue("parley.relay.tasks.deliver_sms", sms.pk))
    return session


def do_deliver_sms(sms_id: int) -> bool:
    """The simulated carrier hands the text to the number's phone (run by a worker)."""
    now = clock.now()
    with transaction.atomic():
        sms = (
            CarrierSms.objects.select_for_update()
            .filter(pk=sms_id, delivered_at=None, expires_at__gt=now)
            .first()
        )
        if sms is None:
            return False
        sms.delivered_at = now
        sms.save(update_fields=["delivered_at"])
    return True


def do_verify_code(session_id: str, code: str) -> VerificationSession:
    """Check the code the client read from the SMS. Every check counts against the number's
    hourly limit before the comparison; wrong codes count against the code, which is void
    once they reach the limit. Verifying an already verified session is a no-op."""
    if VERIFICATION_CODE.fullmatch(code) is None:
        raise InvalidParameter("code must be the 6 digits of the SMS.", field="code")
    now = clock.now()
    max_attempts = int(conf.get("RELAY_VERIFICATION_MAX_ATTEMPTS"))
    wrong: str | None = None
    with transaction.atomic():
        session = _locked_session(session_id, now)
        if session.verified_at is not None:
            return session
        if not session.code_digest:
            raise InvalidParameter("No code is outstanding for this session: request one.")
        if session.code_expires_at is None or session.code_expires_at <= now:
            raise InvalidParameter("The code has expired: request a new one.", field="code")
        ratelimit.hit(
            f"relay:verify:checks:{session.e164}",
            limit=int(conf.get("RELAY_VERIFICATION_CHECKS_PER_NUMBER_PER_HOUR")),
            window_seconds=3600,
        )
        if hmac.compare_digest(session.code_digest, code_digest(session, code)):
            session.verified_at = now
            session.code_digest = ""  # single use
            session.save(update_fields=["verified_at", "code_digest"])
            return session
        session.attempts += 1
        left = max_attempts - session.attempts
        if left <= 0:
            session.code_digest = ""
            wrong = "The code is incorrect and now void: request a new code."
        else:
            wrong = f"The code is incorrect ({left} attempts left for this code)."
        session.save(update_fields=["attempts", "code_digest"])
    # The attempt is committed; the caller still learns the code was wrong.
    raise InvalidParameter(wrong, field="code")


def consume_verified_session(session_id: str | None, e164: str, *, at: dt.datetime) -> None:
    """Inside a registration's transaction: the session must be verified for `e164`, unused
    and unexpired; it is then used up (rolled back with the registration if that fails)."""
    session = None
    if session_id and VERIFICATION_SESSION_ID.fullmatch(session_id) is not None:
        session = (
            VerificationSession.objects.select_for_update()
            .filter(id_digest=token_digest(session_id))
            .first()
        )
    if (
        session is None
        or session.e164 != e164
        or session.verified_at is None
        or session.used_at is not None
        or session.expires_at <= at
    ):
        raise VerificationRequired(e164)
    session.used_at = at
    session.save(update_fields=["used_at"])
