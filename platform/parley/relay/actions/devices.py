"""Device registration: create an account's devices once the number is verified, re-register
them (reinstall / new phone), guard a handset number with Registration Lock, and remember when
each device was last seen (to the day)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction

from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import Business, PhoneNumber
from parley.core import clock, ratelimit
from parley.core.crypto import token_digest
from parley.core.errors import Conflict, InvalidParameter, PermissionDenied
from parley.core.events import BusinessBlocked, IdentityChanged
from parley.core.publish import publish
from parley.relay import conf
from parley.relay.actions.mailbox import notify_undelivered
from parley.relay.actions.verification import consume_verified_session
from parley.relay.credentials import Credential, new_password
from parley.relay.errors import RegistrationLocked
from parley.relay.models import (
    DeliveryRecord,
    Device,
    Envelope,
    IdentityKeyRecord,
    KemPreKey,
    OneTimePreKey,
    RelayAccount,
    SignedPreKey,
)
from parley.relay.validation import check_identity_key, check_registration_id

PIN_PATTERN = re.compile(r"[0-9]{4,20}")
# Registration Lock attempts per number and hour: a 4-digit PIN then takes ~42 days on
# average to guess, and the owner still gets in once the hour is over.
REGISTRATION_LOCK_ATTEMPTS_PER_HOUR = 5


@dataclasses.dataclass(frozen=True)
class Registration:
    device: Device
    password: str
    created: bool
    identity_changed: bool

    @property
    def credential(self) -> Credential:
        return Credential(self.device.account.e164, self.device.device_id, self.password)


def do_register_device(
    *,
    e164: str,
    kind: str,
    device_id: int,
    registration_id: int,
    identity_key: bytes,
    business: Business | None = None,
    linked_by: Device | None = None,
    registration_lock: str | None = None,
    session_id: str | None = None,
) -> Registration:
    """Register (or re-register) one device of a handset or business number.

    Authorisation: a business number needs a Business API token of the business that owns
    it (`business`). The primary device (1) of a handset number needs a verification session
    (`session_id`) in which the client proved control of the number with the code texted to
    it; the session is used up. Adding another device needs an existing device of the same
    account (`linked_by`).

    Registration Lock: when the handset number already exists and its owner set a PIN,
    re-registering device 1 needs `registration_lock` equal to that PIN; otherwise
    RegistrationLocked (423) and nothing changes (the session stays usable). PIN attempts are
    rate-limited per number (RateLimited, 429, once exceeded — the correct PIN included). The
    lock survives a successful re-registration.

    A re-registration replaces the device: its pre-keys are wiped, its queued envelopes are
    dropped (never handed to the new registration) and their senders get an `expired`
    receipt, and the change is recorded in the identity history and announced
    (IdentityChanged) even when the identity key is the same."""
    e164, _ = parse_e164(e164)
    if kind not in RelayAccount.Kind.values:
        raise InvalidParameter("kind must be 'handset' or 'business'.", field="kind")
    if not 1 <= device_id <= int(conf.get("RELAY_MAX_DEVICES")):
        raise InvalidParameter(
            f"device_id must be between 1 and {conf.get('RELAY_MAX_DEVICES')}.", field="device_id"
        )
    check_registration_id(registration_id)
    check_identity_key(identity_key)

    number = PhoneNumber.objects.filter(e164=e164).first()
    if kind == RelayAccount.Kind.BUSINESS:
        if number is None or business is None or number.business_id != business.pk:
            raise PermissionDenied(
                "A business number registers with an API token of the business that owns it."
            )
    elif number is not None:
        raise PermissionDenied(f"{e164} is a business number; it cannot register as a handset.")

    password = new_password()
    now = clock.now()
    try:
        with transaction.atomic():
            if kind == RelayAccount.Kind.HANDSET and device_id == 1:
                consume_verified_session(session_id, e164, at=now)
            account = RelayAccount.objects.select_for_update().filter(e164=e164).first()
            created_account = account is None
            if account is None:
                if device_id != 1:
                    raise InvalidParameter(
                        "A new account registers its primary device (device_id 1) first.",
                        field="device_id",
                    )
                account = RelayAccount.objects.create(
                    kind=kind, e164=e164, phone_number=number, created_at=now
                )
            elif account.kind != kind:
                raise Conflict(f"{e164} is registered as a {account.kind} account.")
            elif device_id == 1 and account.has_registration_lock:
                _check_registration_lock(account, registration_lock)
            if linked_by is not None and linked_by.account_id != account.pk:
                raise PermissionDenied("A device can only link devices of its own account.")

            device = (
                Device.objects.select_for_update()
                .filter(account=account, device_id=device_id)
                .first()
            )
            if (
                not created_account
                and device_id != 1
                and kind == RelayAccount.Kind.HANDSET
                and linked_by is None
            ):
                raise PermissionDenied(
                    "Linking another device needs the credential of a device of this account."
                )
            digest = token_digest(password)
            identity_changed = False
            if device is None:
                device = Device.objects.create(
                    account=account,
                    device_id=device_id,
                    registration_id=registration_id,
                    identity_key=identity_key,
                    identity_registered_at=now,
                    credential_digest=digest,
                    created_at=now,
                    last_seen_on=now.date(),
                )
                IdentityKeyRecord.objects.create(
                    account=account,
                    device_id=device_id,
                    identity_key=identity_key,
                    registered_at=now,
                )
                created = True
            else:
                created = False
                identity_changed = bytes(device.identity_key) != identity_key
                device.registration_id = registration_id
                device.credential_digest = digest
                device.last_seen_on = now.date()
                device.identity_key = identity_key
                device.identity_registered_at = now
                _replace_device_state(device, now)
                IdentityKeyRecord.objects.filter(
                    account=account, device_id=device_id, replaced_at=None
                ).update(replaced_at=now)
                IdentityKeyRecord.objects.create(
                    account=account,
                    device_id=device_id,
                    identity_key=identity_key,
                    registered_at=now,
                )
                device.save()
                publish(
                    IdentityChanged(
                        business_id=account.business_id,
                        occurred_at=now,
                        e164=account.e164,
                        device_id=device_id,
                        account_kind=account.kind,
                    )
                )
    except IntegrityError as exc:  # a concurrent registration of the same number won
        raise Conflict(f"{e164} is being registered by another request; retry.") from exc
    return Registration(device, password, created, identity_changed)


def _check_registration_lock(account: RelayAccount, pin: str | None) -> None:
    """Raise unless `pin` opens the account's Registration Lock. Runs before any write."""
    if not pin:
        raise RegistrationLocked(account.e164)
    # Every PIN attempt counts, before the PIN is checked: past the limit even the right
    # PIN is refused until the window ends, so the 429 tells a guesser nothing.
    ratelimit.hit(
        f"relay:registration-lock:{account.e164}",
        limit=REGISTRATION_LOCK_ATTEMPTS_PER_HOUR,
        window_seconds=3600,
    )
    if not check_password(pin, account.registration_lock_hash):
        raise RegistrationLocked(account.e164)


def _lockable_account(device: Device) -> RelayAccount:
    account = device.account
    if account.kind != RelayAccount.Kind.HANDSET:
        raise PermissionDenied(
            "Registration Lock is for handset numbers; a business number is already "
            "protected by its business's API token."
        )
    if device.device_id != 1:
        raise PermissionDenied("Only the primary device (device 1) can change Registration Lock.")
    return account


def do_set_registration_lock(device: Device, pin: str) -> None:
    """Turn Registration Lock on (or change its PIN) for the device's handset number."""
    if not isinstance(pin, str) or PIN_PATTERN.fullmatch(pin) is None:
        raise InvalidParameter("pin must be 4 to 20 digits.", field="pin")
    account = _lockable_account(device)
    with transaction.atomic():
        account.registration_lock_hash = make_password(pin)
        RelayAccount.objects.filter(pk=account.pk).update(
            registration_lock_hash=account.registration_lock_hash
        )


def do_clear_registration_lock(device: Device) -> None:
    """Turn Registration Lock off for the device's handset number (idempotent)."""
    account = _lockable_account(device)
    with transaction.atomic():
        RelayAccount.objects.filter(pk=account.pk).update(registration_lock_hash="")
        account.registration_lock_hash = ""


def do_set_business_block(device: Device, blocked: bool) -> None:
    """Block (or unblock) every business for the device's handset number: the relay
    then refuses business accounts' messages to it (idempotent). Device 1 only."""
    account = device.account
    if account.kind != RelayAccount.Kind.HANDSET or device.device_id != 1:
        raise PermissionDenied("Only the primary device of a handset number blocks businesses.")
    with transaction.atomic():
        was = RelayAccount.objects.select_for_update().get(pk=account.pk).blocks_businesses
        RelayAccount.objects.filter(pk=account.pk).update(blocks_businesses=blocked)
        account.blocks_businesses = blocked
        if blocked and not was:
            _announce_block(account)


# How far back a block counts against the business numbers that wrote to the customer.
BLOCK_ATTRIBUTION = dt.timedelta(days=7)


def _announce_block(account: RelayAccount) -> None:
    """Tell each business number that sent the customer a message lately that it was
    blocked (from delivery metadata; the relay reads no content)."""
    now = clock.now()
    senders = (
        DeliveryRecord.objects.filter(
            recipient_account=account,
            sender_account__kind=RelayAccount.Kind.BUSINESS,
            sender_account__phone_number__isnull=False,
            server_timestamp__gte=now - BLOCK_ATTRIBUTION,
        )
        .values_list("sender_account__phone_number__business_id", "sender_account__e164")
        .order_by("sender_account__phone_number__business_id", "sender_account__e164")
        .distinct()
    )
    for business_id, e164 in senders:
        publish(BusinessBlocked(business_id=business_id, occurred_at=now,
                                number_e164=e164, customer=account.e164))  # fmt: skip


def _replace_device_state(device: Device, now: dt.datetime) -> None:
    """A new registration of the device: what was published for, or queued to, the previous
    one is not the new one's. Pre-keys go; queued envelopes are dropped and their senders
    told, as when envelopes expire."""
    SignedPreKey.objects.filter(device=device).delete()
    KemPreKey.objects.filter(device=device).delete()
    OneTimePreKey.objects.filter(device=device).delete()
    queued = list(
        Envelope.objects.select_for_update(of=("self",))
        .select_related("recipient", "recipient__account")
        .filter(recipient=device)
    )
    Envelope.objects.filter(pk__in=[e.pk for e in queued]).delete()
    notify_undelivered(queued, at=now)


def do_touch_device(device: Device) -> None:
    """Record that the device was seen today (day granularity; at most one write a day)."""
    today = clock.now().date()
    if device.last_seen_on != today:
        Device.objects.filter(pk=device.pk).update(last_seen_on=today)
        device.last_seen_on = today
