"""Writes of the e2ee glue: create a local device (handset or business number), restore one
from a backup, reset one (a "reinstall"). Each in one transaction."""

from __future__ import annotations

from django.db import transaction

from e2ee.attachments import StorageAttachmentStore
from e2ee.client import HistoryItem, SignalClient
from e2ee.models import IdentityChangeNotice, LocalDevice
from e2ee.protocol import (
    IdentityKeyPair,
    InMemoryProtocolStore,
    generate_identity_key_pair,
    generate_registration_id,
)
from e2ee.protocol import backup as protocol_backup
from e2ee.store import DjangoDeviceState, seal
from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter, NotFound

# Restored devices continue key ids well past anything the old device may have published.
_KEY_ID_GAP = 1000


def _create(
    e164: str,
    identity: IdentityKeyPair,
    registration_id: int,
    *,
    business_number: bool,
) -> LocalDevice:
    number = PhoneNumber.objects.filter(e164=e164).first()
    if business_number:
        if number is None:
            raise NotFound(f"{e164} is not a business number on this platform.")
        owner, business = LocalDevice.Owner.BUSINESS, number.business
    else:
        if number is not None:
            raise InvalidParameter(f"{e164} is a business number; it cannot be a handset.")
        owner, business = LocalDevice.Owner.HANDSET, None
    return LocalDevice.objects.create(
        owner=owner,
        e164=e164,
        device_id=1,
        business=business,
        phone_number=number,
        registration_id=registration_id,
        identity_public=identity.public_key.serialize(),
        identity_private_encrypted=seal(identity.private_key.raw),
        created_at=clock.now(),
    )


def do_create_device(
    e164: str, *, business_number: bool = False, replace: bool = False
) -> LocalDevice:
    """A new local device with a fresh identity. ``replace`` drops an existing one first
    (a reinstall: new identity, new registration id, empty history)."""
    e164, _ = parse_e164(e164)
    with transaction.atomic():
        existing = LocalDevice.objects.filter(e164=e164, device_id=1)
        if existing.exists():
            if not replace:
                raise Conflict(f"A local device for {e164} already exists.")
            existing.delete()
        return _create(
            e164,
            generate_identity_key_pair(),
            generate_registration_id(),
            business_number=business_number,
        )


def do_restore_device(
    e164: str,
    blob: bytes,
    *,
    recovery_key: str | None = None,
    password: str | None = None,
    business_number: bool = False,
) -> LocalDevice:
    """Open an end-to-end encrypted backup onto a new local device (replacing any device of
    that number here): identity, registration id, peers, pre-keys, sessions and history."""
    e164, _ = parse_e164(e164)
    contents = protocol_backup.restore_backup(blob, recovery_key=recovery_key, password=password)
    store: InMemoryProtocolStore = contents.store
    with transaction.atomic():
        LocalDevice.objects.filter(e164=e164, device_id=1).delete()
        device = _create(
            e164, store.identity_key_pair, store.registration_id, business_number=business_number
        )
        state = DjangoDeviceState(device)
        for address, key in store.identities.items():
            state.save_identity(address, key)
        for pre_key in store.pre_keys.values():
            state.store_pre_key(pre_key)
        for signed in store.signed_pre_keys.values():
            state.store_signed_pre_key(signed)
        for kyber in store.kyber_pre_keys.values():
            state.store_kyber_pre_key(kyber)
        for address, record in store.sessions.items():
            state.store_session(address, record)
        state.importing = True  # history that happened before: no events, no billing
        for item in contents.history:
            state.add_message(HistoryItem.from_dict(dict(item)))
        device.next_pre_key_id = max(store.pre_keys, default=0) + _KEY_ID_GAP
        device.next_kyber_pre_key_id = max(store.kyber_pre_keys, default=0) + _KEY_ID_GAP
        device.next_signed_pre_key_id = max(store.signed_pre_keys, default=0) + 1
        device.active_signed_pre_key_id = max(store.signed_pre_keys, default=None)
        device.save()
    return device


def client_for(
    device: LocalDevice, relay_url: str | None = None, *, sole_writer: bool = False
) -> SignalClient:
    """The client of a stored device (its relay URL unless another is given); see
    `DjangoDeviceState` for `sole_writer`."""
    return SignalClient(
        DjangoDeviceState(device, sole_writer=sole_writer),
        relay_url=relay_url or device.relay_url or None,
        attachments=StorageAttachmentStore(),
    )


def do_discard_unregistered_device(e164: str) -> bool:
    """Drop the local device of a number that never got a relay credential (its registration
    failed), so that creating it again simply works. A registered device is kept."""
    try:
        number, _ = parse_e164(e164)
    except InvalidParameter:
        return False
    with transaction.atomic():
        deleted, _ = LocalDevice.objects.filter(
            e164=number, device_id=1, credential_encrypted=""
        ).delete()
    return deleted > 0


def do_see_identity_changes(device: LocalDevice) -> list[str]:
    """Mark the device's unseen identity-change notices seen; returns whose keys changed
    (what a user is shown once)."""
    with transaction.atomic():
        notices = list(
            IdentityChangeNotice.objects.select_for_update().filter(
                device=device, seen_at__isnull=True
            )
        )
        IdentityChangeNotice.objects.filter(pk__in=[n.pk for n in notices]).update(
            seen_at=clock.now()
        )
    return list(dict.fromkeys(n.name for n in notices))


def do_announce_identity_changes(device: LocalDevice) -> list[str]:
    """A business number's endpoint tells its business of the customers whose security code
    changed (its unannounced identity-change notices, marked announced; they stay unseen
    for whoever reads the number's inbox): one CustomerIdentityChanged each. Returns the
    customers."""
    from parley.core.events import CustomerIdentityChanged
    from parley.core.publish import publish

    number = device.phone_number
    if number is None:
        return []
    with transaction.atomic():
        notices = list(
            IdentityChangeNotice.objects.select_for_update().filter(
                device=device, announced_at__isnull=True
            )
        )
        if not notices:
            return []
        IdentityChangeNotice.objects.filter(pk__in=[n.pk for n in notices]).update(
            announced_at=clock.now()
        )
        for notice in notices:
            publish(
                CustomerIdentityChanged(
                    business_id=number.business_id,
                    occurred_at=notice.created_at,
                    number=device.e164,
                    customer=notice.name,
                    device_id=notice.peer_device_id,
                )
            )
    return [n.name for n in notices]
