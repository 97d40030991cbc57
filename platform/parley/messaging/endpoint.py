"""A business number's Signal endpoint, run by Parley's workers.

Outbound: encrypt an accepted message to the customer's devices with the e2ee client and
hand the ciphertext to the relay through its API (the relay stays its own trust domain and
sees ciphertext only). Inbound: fetch the envelopes queued for the number's device, decrypt
them into `do_record_inbound_message`, turn receipts into status transitions, ack.

The relay is reached through its API, in-process by default (parley.messaging.transport).
One endpoint works on one device's sessions at a time: a Redis lock per device keeps two
workers (or a worker and the command line) from ratcheting the same session at once."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

from e2ee.attachments import StorageAttachmentStore
from e2ee.client import ClientError, RelayError, SignalClient
from e2ee.client.relay import b64
from e2ee.models import LocalDevice
from e2ee.protocol.media import MediaType, encrypt_media_bytes
from e2ee.store import DjangoDeviceState
from parley.accounts.models import PhoneNumber
from parley.messaging import lifecycle
from parley.messaging.actions import do_fail_message
from parley.messaging.content import Content, Location, Media, Text, parse_content
from parley.messaging.models import Message
from parley.messaging.transport import InProcessRelay

LOCK_SECONDS = 120
# Cloud API error codes for a message that cannot go out.
UNDELIVERABLE = (131026, "Message undeliverable")
NO_ENDPOINT = (131000, "Something went wrong: the number has no registered Signal endpoint")
GAVE_UP = (131000, "Something went wrong: the relay could not be reached")


class EndpointBusy(Exception):
    """Another worker holds the device's lock; try again shortly."""


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def _key(kind: str, device_pk: int) -> str:
    return f"{settings.NAMESPACE}:messaging:{kind}:{device_pk}"


@contextmanager
def device_lock(device_pk: int, *, wait: float) -> Iterator[bool]:
    """Hold the device's lock (waiting up to `wait` s); yields whether it was acquired."""
    lock = _redis().lock(_key("lock", device_pk), timeout=LOCK_SECONDS)
    acquired = bool(lock.acquire(blocking=wait > 0, blocking_timeout=wait or None))
    try:
        yield acquired
    finally:
        if acquired:
            # A lock that timed out and was taken over is not ours to release any more.
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()


def business_device(number: PhoneNumber | str) -> LocalDevice | None:
    """The registered Signal device of a business number, if it has one."""
    e164 = number if isinstance(number, str) else number.e164
    return (
        LocalDevice.objects.select_related("phone_number")
        .filter(owner=LocalDevice.Owner.BUSINESS, e164=e164, device_id=1)
        .exclude(credential_encrypted="")
        .first()
    )


def endpoint_client(device: LocalDevice, *, relay_url: str | None = None) -> SignalClient:
    """The device's client. Without an explicit relay URL it talks to this installation's
    relay in-process (PARLEY["MESSAGING_RELAY_TRANSPORT"] = "http" goes over the network
    to the URL it registered with instead)."""
    state = DjangoDeviceState(device)
    client = SignalClient(
        state, relay_url=relay_url or device.relay_url or None, attachments=StorageAttachmentStore()
    )
    transport = settings.PARLEY.get("MESSAGING_RELAY_TRANSPORT", "inprocess")
    if relay_url is None and transport == "inprocess":
        client.relay = InProcessRelay(client.relay.base_url, client.relay.credential)
    return client


# -- outbound ----------------------------------------------------------------------------


def store_media(
    data: bytes, *, file_name: str, mime_type: str, kind: str = "document", caption: str = ""
) -> Media:
    """Encrypt a file with a fresh media key and store only its ciphertext: the content of
    a media message (the key stays in the tenant, inside the message's pointer)."""
    media_type = MediaType.__members__.get(kind.upper(), MediaType.DOCUMENT)
    ciphertext, info = encrypt_media_bytes(data, media_type)
    attachment_id = StorageAttachmentStore().put(ciphertext)
    pointer = {
        "id": attachment_id,
        "media_key": b64(info.media_key),
        "media_type": media_type.name,
        "file_sha256": b64(info.file_sha256),
        "file_enc_sha256": b64(info.file_enc_sha256),
        "file_length": info.file_length,
        "enc_length": info.enc_length,
        "file_name": file_name,
        "mime_type": mime_type,
    }
    return Media(
        kind=kind,
        id=attachment_id,
        mime_type=mime_type,
        file_name=file_name,
        file_length=info.file_length,
        caption=caption,
        pointer=pointer,
    )


def _send_content(client: SignalClient, customer: str, content: Content) -> list[str]:
    if isinstance(content, Text) and not content.suggestions:
        return client.send_text(customer, content.body)
    if isinstance(content, Media) and content.pointer:
        return client.send_media_pointer(customer, content.pointer, caption=content.caption)
    if isinstance(content, Location):
        return client.send_location(customer, content.latitude, content.longitude,
                                    name=content.name, address=content.address)  # fmt: skip
    return client.send_rich(customer, content.to_dict(), content.preview())


def deliver(message_id: int, *, relay_url: str | None = None, wait: float = 30) -> str:
    """Encrypt and hand an accepted message to the relay (→ sent), or fail it. Raises
    EndpointBusy or RelayError when trying again later may work. Returns the outcome."""
    message = (
        Message.objects.select_related("conversation", "conversation__number")
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.status != lifecycle.ACCEPTED:
        return "skipped"
    device = business_device(message.conversation.number)
    if device is None:
        do_fail_message(message_id, *NO_ENDPOINT)
        return "failed"
    with device_lock(device.pk, wait=wait) as acquired:
        if not acquired:
            raise EndpointBusy(device.e164)
        message.refresh_from_db(fields=["status"])
        if message.status != lifecycle.ACCEPTED:
            return "skipped"
        client = endpoint_client(device, relay_url=relay_url)
        assert isinstance(client.state, DjangoDeviceState)
        client.state.sending_message_id = message.pk
        try:
            _send_content(client, message.conversation.customer, parse_content(message.content))
        except ClientError as exc:
            do_fail_message(message_id, UNDELIVERABLE[0], f"{UNDELIVERABLE[1]}: {exc}")
            return "failed"
        except RelayError as exc:
            if exc.status == 0 or exc.status == 429 or exc.status >= 500:
                raise
            do_fail_message(message_id, UNDELIVERABLE[0], f"{UNDELIVERABLE[1]}: {exc.message}")
            return "failed"
    return "sent"


# -- inbound -----------------------------------------------------------------------------


def pull(e164: str, *, relay_url: str | None = None, wait: float = 0) -> int:
    """Fetch, decrypt and ack what the relay queued for the number's device; returns how
    many envelopes were handled. When another worker is pulling already, leave it a note
    to go round once more and return at once."""
    device = business_device(e164)
    if device is None:
        return 0
    again = _key("again", device.pk)
    handled = 0
    while True:
        with device_lock(device.pk, wait=wait) as acquired:
            if not acquired:
                _redis().set(again, 1, ex=LOCK_SECONDS)
                return handled
            while True:
                _redis().delete(again)
                handled += len(endpoint_client(device, relay_url=relay_url).receive())
                if not _redis().exists(again):
                    break
        # A note left between our last look and the release: go round once more.
        if not _redis().exists(again):
            return handled
        wait = 0
