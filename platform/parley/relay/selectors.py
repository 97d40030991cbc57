"""Relay reads. No side effects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from parley.core import clock
from parley.core.crypto import constant_time_equal, decrypt_text, token_digest
from parley.core.errors import NotFound
from parley.relay import conf
from parley.relay.credentials import Credential
from parley.relay.models import (
    CarrierSms,
    Device,
    Envelope,
    IdentityKeyRecord,
    KemPreKey,
    OneTimePreKey,
    RelayAccount,
    SignedPreKey,
    VerificationSession,
)
from parley.relay.validation import VERIFICATION_SESSION_ID


def get_device_for_credential(credential: Credential) -> Device | None:
    """The device a credential belongs to, or None (wrong number, device or password)."""
    device = (
        Device.objects.select_related("account", "account__phone_number")
        .filter(credential_digest=credential.digest)
        .first()
    )
    if device is None:
        return None
    if device.device_id != credential.device_id or not constant_time_equal(
        device.account.e164, credential.e164
    ):
        return None
    return device


def get_account(e164: str) -> RelayAccount:
    account = RelayAccount.objects.select_related("phone_number").filter(e164=e164).first()
    if account is None:
        raise NotFound(f"No relay account for {e164}.")
    return account


def find_account(e164: str) -> RelayAccount | None:
    return RelayAccount.objects.select_related("phone_number").filter(e164=e164).first()


def list_devices(account: RelayAccount) -> QuerySet[Device]:
    return Device.objects.filter(account=account).order_by("device_id")


@dataclasses.dataclass(frozen=True)
class PreKeyCounts:
    ec: int
    kem: int
    has_last_resort: bool
    has_signed: bool

    @property
    def replenish(self) -> bool:
        low = int(conf.get("RELAY_PREKEY_LOW_WATERMARK"))
        return self.ec < low or self.kem < low or not self.has_last_resort or not self.has_signed


def count_pre_keys(device: Device) -> PreKeyCounts:
    return PreKeyCounts(
        ec=OneTimePreKey.objects.filter(device=device).count(),
        kem=KemPreKey.objects.filter(device=device, last_resort=False).count(),
        has_last_resort=KemPreKey.objects.filter(device=device, last_resort=True).exists(),
        has_signed=SignedPreKey.objects.filter(device=device, superseded_at=None).exists(),
    )


def current_signed_pre_key(device: Device) -> SignedPreKey | None:
    return (
        SignedPreKey.objects.filter(device=device, superseded_at=None)
        .order_by("-uploaded_at", "-id")
        .first()
    )


def list_signed_pre_keys(device: Device) -> list[SignedPreKey]:
    """The current signed pre-key first, then those still inside their grace period."""
    return list(SignedPreKey.objects.filter(device=device).order_by("-uploaded_at", "-id"))


def list_pending_envelopes(
    device: Device, *, now: dt.datetime, limit: int, after_id: int = 0
) -> list[Envelope]:
    return list(
        Envelope.objects.select_related("sender_account", "recipient")
        .filter(recipient=device, expires_at__gt=now, id__gt=after_id)
        .order_by("id")[:limit]
    )


_PENDING = (
    "SELECT e.*, a.e164 AS sender_e164, d.device_id AS recipient_device_id,"
    " d.credential_digest AS recipient_credential_digest FROM relay_envelope e"
    " JOIN relay_device d ON d.id = e.recipient_id"
    " LEFT JOIN relay_relayaccount a ON a.id = e.sender_account_id"
    " WHERE e.guid IN ({})"
)


def list_pending_envelopes_of(
    wanted: Sequence[tuple[Device, uuid.UUID | str]],
) -> list[Envelope | None]:
    """Each (device, guid)'s envelope if it is in that device's queue, else None, with its
    sender's account and its recipient device loaded (as far as `envelope_out` and the push
    need them: numbers, device id, credential digest). One plain read for all: the push
    runs it for every envelope of every online phone."""
    if not wanted:
        return []
    field = Envelope._meta.get_field("guid")
    keys = [uuid.UUID(str(guid)) for _, guid in wanted]
    params = [field.get_db_prep_value(key, connection) for key in dict.fromkeys(keys)]
    sql = _PENDING.format(", ".join(["%s"] * len(params)))
    found = {envelope.guid: envelope for envelope in Envelope.objects.raw(sql, params)}
    answers: list[Envelope | None] = []
    for (device, _), key in zip(wanted, keys, strict=True):
        envelope = found.get(key)
        if envelope is None or envelope.recipient_id != device.pk:
            answers.append(None)
            continue
        row: Any = envelope
        envelope.recipient = Device(
            pk=envelope.recipient_id,
            account_id=device.account_id,
            device_id=row.recipient_device_id,
            credential_digest=row.recipient_credential_digest,
        )
        envelope.sender_account = (
            RelayAccount(pk=envelope.sender_account_id, e164=row.sender_e164)
            if envelope.sender_account_id is not None
            else None
        )
        answers.append(envelope)
    return answers


def list_identity_changes(account: RelayAccount, *, since: dt.datetime) -> list[IdentityKeyRecord]:
    """Identity keys registered after `since` that replaced an earlier one (new devices'
    first keys are not changes)."""
    records = list(IdentityKeyRecord.objects.filter(account=account).order_by("registered_at"))
    seen: set[int] = set()
    changes: list[IdentityKeyRecord] = []
    for record in records:
        if record.device_id in seen and record.registered_at > since:
            changes.append(record)
        seen.add(record.device_id)
    # A device whose earlier history was purged but whose current identity replaced one.
    current = {d.device_id: d for d in Device.objects.filter(account=account)}
    for device_id, device in current.items():
        first = next((r for r in records if r.device_id == device_id), None)
        if (
            first is not None
            and first.replaced_at is None  # the earliest record left is the current one
            and first.registered_at > since
            and first not in changes
            and device.identity_registered_at > device.created_at
        ):
            changes.append(first)
    return sorted(changes, key=lambda r: r.registered_at)


def get_verification_session(session_id: str) -> VerificationSession:
    """An unexpired verification session by its (secret) id."""
    session = None
    if VERIFICATION_SESSION_ID.fullmatch(session_id) is not None:
        session = VerificationSession.objects.filter(id_digest=token_digest(session_id)).first()
    if session is None or session.expires_at <= clock.now():
        raise NotFound("No such verification session (it may have expired): start a new one.")
    return session


@dataclasses.dataclass(frozen=True)
class Sms:
    id: int
    sender: str
    body: str
    delivered_at: dt.datetime


def list_sms(e164: str) -> list[Sms]:
    """The texts the simulated carrier delivered to a number and that have not expired,
    newest first: what the phone of that number shows."""
    now = clock.now()
    return [
        Sms(m.pk, m.sender, decrypt_text(m.body_encrypted), m.delivered_at)
        for m in CarrierSms.objects.filter(
            e164=e164, delivered_at__isnull=False, expires_at__gt=now
        ).order_by("-sent_at", "-id")[:20]
        if m.delivered_at is not None
    ]
