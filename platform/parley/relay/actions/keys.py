"""The pre-key directory: devices upload public pre-keys; senders fetch a bundle that claims
one-time keys atomically (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock,
taken at BEGIN IMMEDIATE, serialises)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TypeVar

from django.db import models, transaction
from django.db.models import QuerySet

from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter, NotFound
from parley.core.events import PreKeysLow
from parley.core.publish import publish
from parley.relay import conf
from parley.relay.models import Device, KemPreKey, OneTimePreKey, RelayAccount, SignedPreKey
from parley.relay.selectors import PreKeyCounts, count_pre_keys, current_signed_pre_key
from parley.relay.validation import (
    check_ec_public_key,
    check_identity_key,
    check_kem_public_key,
    check_key_id,
    check_signature,
    check_signed_by,
)

M = TypeVar("M", bound=models.Model)


@dataclasses.dataclass(frozen=True)
class SignedKey:
    key_id: int
    public_key: bytes
    signature: bytes


@dataclasses.dataclass(frozen=True)
class KemKey:
    key_id: int
    public_key: bytes
    signature: bytes


@dataclasses.dataclass(frozen=True)
class EcKey:
    key_id: int
    public_key: bytes


@dataclasses.dataclass(frozen=True)
class KeyUpload:
    identity_key: bytes | None = None
    signed_pre_key: SignedKey | None = None
    kem_last_resort: KemKey | None = None
    kem_pre_keys: tuple[KemKey, ...] = ()
    pre_keys: tuple[EcKey, ...] = ()


def _validate(device: Device, upload: KeyUpload) -> None:
    if upload.identity_key is not None:
        check_identity_key(upload.identity_key)
        if upload.identity_key != bytes(device.identity_key):
            raise Conflict(
                "identity_key differs from the registered one; re-register to change identity.",
            )
    limit = int(conf.get("RELAY_MAX_PREKEYS_PER_UPLOAD"))
    if len(upload.pre_keys) > limit or len(upload.kem_pre_keys) > limit:
        raise InvalidParameter(f"Upload at most {limit} pre-keys of each kind at once.")
    if upload.signed_pre_key is not None:
        check_key_id(upload.signed_pre_key.key_id, "signed_pre_key.key_id")
        check_ec_public_key(upload.signed_pre_key.public_key, "signed_pre_key.public_key")
        check_signature(upload.signed_pre_key.signature, "signed_pre_key.signature")
        check_signed_by(
            bytes(device.identity_key),
            upload.signed_pre_key.public_key,
            upload.signed_pre_key.signature,
            "signed_pre_key.signature",
        )
    kem = list(upload.kem_pre_keys)
    if upload.kem_last_resort is not None:
        kem.append(upload.kem_last_resort)
    for i, k in enumerate(kem):
        check_key_id(k.key_id, f"pq_pre_keys[{i}].key_id")
        check_kem_public_key(k.public_key, f"pq_pre_keys[{i}].public_key")
        check_signature(k.signature, f"pq_pre_keys[{i}].signature")
        check_signed_by(
            bytes(device.identity_key), k.public_key, k.signature, f"pq_pre_keys[{i}].signature"
        )
    for i, e in enumerate(upload.pre_keys):
        check_key_id(e.key_id, f"pre_keys[{i}].key_id")
        check_ec_public_key(e.public_key, f"pre_keys[{i}].public_key")
    if len({e.key_id for e in upload.pre_keys}) != len(upload.pre_keys):
        raise InvalidParameter("pre_keys repeat a key_id.", field="pre_keys")
    if len({k.key_id for k in kem}) != len(kem):
        raise InvalidParameter("pq_pre_keys repeat a key_id.", field="pq_pre_keys")


def do_upload_keys(device: Device, upload: KeyUpload) -> PreKeyCounts:
    """Store a device's public pre-keys. A new signed pre-key replaces the current one, which
    is kept (superseded) for the grace period; a new last-resort KEM key replaces the old.
    One-time keys are added to the pool. All or nothing."""
    _validate(device, upload)
    now = clock.now()
    cap = int(conf.get("RELAY_MAX_PREKEYS_STORED"))
    with transaction.atomic():
        Device.objects.select_for_update().filter(pk=device.pk).first()  # one upload at a time
        if upload.signed_pre_key is not None:
            _store_signed(device, upload.signed_pre_key, now)
        kem_ids = [k.key_id for k in upload.kem_pre_keys]
        if upload.kem_last_resort is not None:
            kem_ids.append(upload.kem_last_resort.key_id)
        clash = KemPreKey.objects.filter(device=device, key_id__in=kem_ids)
        if upload.kem_last_resort is not None:
            # Re-uploading the current last-resort key is not a clash.
            clash = clash.exclude(key_id=upload.kem_last_resort.key_id, last_resort=True)
        if clash.exists():
            raise Conflict("A pq pre-key with that key_id is already stored.", field="pq_pre_keys")
        if OneTimePreKey.objects.filter(
            device=device, key_id__in=[e.key_id for e in upload.pre_keys]
        ).exists():
            raise Conflict("A pre-key with that key_id is already stored.", field="pre_keys")
        if upload.kem_last_resort is not None:
            KemPreKey.objects.filter(device=device, last_resort=True).delete()
            k = upload.kem_last_resort
            KemPreKey.objects.create(
                device=device,
                key_id=k.key_id,
                public_key=k.public_key,
                signature=k.signature,
                last_resort=True,
                uploaded_at=now,
            )
        KemPreKey.objects.bulk_create(
            KemPreKey(
                device=device,
                key_id=k.key_id,
                public_key=k.public_key,
                signature=k.signature,
                last_resort=False,
                uploaded_at=now,
            )
            for k in upload.kem_pre_keys
        )
        OneTimePreKey.objects.bulk_create(
            OneTimePreKey(device=device, key_id=e.key_id, public_key=e.public_key, uploaded_at=now)
            for e in upload.pre_keys
        )
        counts = count_pre_keys(device)
        if counts.ec > cap or counts.kem > cap:
            raise InvalidParameter(f"A device may store at most {cap} one-time pre-keys of a kind.")
    return counts


def _store_signed(device: Device, key: SignedKey, now: dt.datetime) -> None:
    existing = SignedPreKey.objects.filter(device=device, key_id=key.key_id).first()
    if existing is not None:
        if bytes(existing.public_key) == key.public_key and bytes(existing.signature) == (
            key.signature
        ):
            return  # the same key uploaded again
        raise Conflict(
            "A different signed pre-key with that key_id exists.", field="signed_pre_key"
        )
    SignedPreKey.objects.filter(device=device, superseded_at=None).update(superseded_at=now)
    SignedPreKey.objects.create(
        device=device,
        key_id=key.key_id,
        public_key=key.public_key,
        signature=key.signature,
        uploaded_at=now,
    )


@dataclasses.dataclass(frozen=True)
class DeviceBundle:
    device_id: int
    registration_id: int
    identity_key: bytes
    signed_pre_key: SignedKey
    pre_key: EcKey | None
    kem_pre_key: KemKey | None
    kem_last_resort: bool


def do_claim_bundles(
    requester: Device, account: RelayAccount, device_id: int | None
) -> list[DeviceBundle]:
    """Pre-key bundles for one device (or all devices, `device_id=None`) of `account`,
    claiming one one-time EC key and one one-time KEM key per device. Two concurrent claims
    never get the same key. Devices without a signed pre-key have no bundle."""
    devices = Device.objects.filter(account=account).order_by("device_id")
    if device_id is not None:
        devices = devices.filter(device_id=device_id)
    low = int(conf.get("RELAY_PREKEY_LOW_WATERMARK"))
    bundles: list[DeviceBundle] = []
    with transaction.atomic():
        for device in devices:
            signed = current_signed_pre_key(device)
            if signed is None:
                continue
            ec = _claim(OneTimePreKey.objects.filter(device=device))
            kem_row = _claim(KemPreKey.objects.filter(device=device, last_resort=False))
            last_resort = False
            if kem_row is None:
                kem_row = KemPreKey.objects.filter(device=device, last_resort=True).first()
                last_resort = kem_row is not None
            bundles.append(
                DeviceBundle(
                    device_id=device.device_id,
                    registration_id=device.registration_id,
                    identity_key=bytes(device.identity_key),
                    signed_pre_key=SignedKey(
                        signed.key_id, bytes(signed.public_key), bytes(signed.signature)
                    ),
                    pre_key=EcKey(ec.key_id, bytes(ec.public_key)) if ec is not None else None,
                    kem_pre_key=(
                        KemKey(kem_row.key_id, bytes(kem_row.public_key), bytes(kem_row.signature))
                        if kem_row is not None
                        else None
                    ),
                    kem_last_resort=last_resort,
                )
            )
            if ec is not None or (kem_row is not None and not last_resort):
                counts = count_pre_keys(device)
                crossed = {low - 1, 0}
                if (ec is not None and counts.ec in crossed) or (
                    kem_row is not None and not last_resort and counts.kem in crossed
                ):
                    publish(
                        PreKeysLow(
                            business_id=account.business_id,
                            occurred_at=clock.now(),
                            e164=account.e164,
                            device_id=device.device_id,
                            device_pk=device.pk,
                            ec_remaining=counts.ec,
                            kem_remaining=counts.kem,
                        )
                    )
    if not bundles:
        raise NotFound(
            "No pre-keys published for that device."
            if device_id is not None
            else f"No device of {account.e164} has published pre-keys."
        )
    return bundles


def oldest_unclaimed(queryset: QuerySet[M]) -> QuerySet[M]:
    """The oldest of the rows that no concurrent claim holds (those are skipped, not
    waited for)."""
    return queryset.select_for_update(skip_locked=True).order_by("id")[:1]


def _claim(queryset: QuerySet[M]) -> M | None:
    """Take the oldest row nobody else is taking, deleting it in the same transaction."""
    row = next(iter(oldest_unclaimed(queryset)), None)
    if row is None:
        return None
    deleted, _ = type(row)._default_manager.filter(pk=row.pk).delete()
    return row if deleted else None
