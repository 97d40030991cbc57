"""A business number's Signal endpoint, run by Parley's workers.

Outbound: encrypt the number's accepted messages to the customers' devices with the e2ee
client and hand the ciphertext to the relay through its API, many messages to one request
(the relay stays its own trust domain and sees ciphertext only). Inbound: fetch the envelopes
queued for the number's device, decrypt them into `do_record_inbound_message`, turn receipts
into status transitions, ack a page at a time.

The relay is reached through its API, in-process by default (parley.messaging.transport).
One endpoint works on one device's sessions at a time: a Redis lock per device keeps two
workers (or a worker and the command line) from ratcheting the same session at once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

from e2ee.attachments import StorageAttachmentStore
from e2ee.client import Outgoing, RelayError, SignalClient
from e2ee.client.relay import b64
from e2ee.models import IdentityChangeNotice, LocalDevice
from e2ee.protocol.media import MediaType, encrypt_media_bytes
from e2ee.store import DjangoDeviceState
from parley.accounts.models import PhoneNumber
from parley.messaging import lifecycle, selectors
from parley.messaging.actions import do_admit_sends, do_enable_endpoint, do_fail_message
from parley.messaging.content import Content, Location, Media, Text, parse_content
from parley.messaging.models import Message
from parley.messaging.transport import InProcessRelay, OwnNumberRelay
from parley.messaging.work import LOCK_SECONDS, RECEIVE, SEND, key, note, redis_client

BATCH = 100  # messages per relay request
# How long one client serves a worker's turns at a number's endpoint: its identity, its
# relay credential and the relay's check of it are read once for all the turns of that
# while, not once a turn; a new client then sees whatever changed (a new registration).
CLIENT_SECONDS = 1.0
# Cloud API error codes for a message that cannot go out.
UNDELIVERABLE = (131026, "Message undeliverable")
RE_ENGAGEMENT = (
    131047,
    "Re-engagement message: more than 24 hours have passed since the customer last replied "
    "to this number",
)
NO_ENDPOINT = (131000, "Something went wrong: the number has no registered Signal endpoint")
GAVE_UP = (131000, "Something went wrong: the relay could not be reached")


@contextmanager
def device_lock(device_pk: int, *, wait: float) -> Iterator[bool]:
    """Hold the device's lock (waiting up to `wait` s); yields whether it was acquired."""
    lock = redis_client().lock(key("lock", device_pk), timeout=LOCK_SECONDS)
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


def provision(number: PhoneNumber) -> LocalDevice:
    """Give a registered business number its Signal endpoint, served by the workers: a
    device with a fresh identity, registered with the relay as the business that proved the
    number, its pre-keys published. A number that has one (from an earlier registration or
    the `business_endpoint` command) keeps it."""
    from e2ee.actions import do_create_device

    device = business_device(number)
    if device is None:
        leftover = LocalDevice.objects.filter(e164=number.e164, device_id=1).first()
        device = leftover or do_create_device(number.e164, business_number=True)
        client = endpoint_client(device)
        client.relay = OwnNumberRelay(client.relay.base_url, number.business)
        client.register(kind="business")
    do_enable_endpoint(number)
    return device


# -- outbound ----------------------------------------------------------------------------


def store_media(
    data: bytes, *, file_name: str, mime_type: str, kind: str = "document", caption: str = ""
) -> Media:
    """Encrypt a file with a fresh media key and store only its ciphertext: the content of
    a media message (the key stays in the tenant, inside the message's pointer)."""
    # Stickers are images to the media keys, as on WhatsApp.
    key_kind = "IMAGE" if kind == "sticker" else kind.upper()
    media_type = MediaType.__members__.get(key_kind, MediaType.DOCUMENT)
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


def outgoing(customer: str, content: Content) -> Outgoing:
    """What the Signal client sends for a message's content."""
    if isinstance(content, Text) and not content.suggestions:
        return Outgoing.text(customer, content.body)
    if isinstance(content, Media) and content.pointer:
        return Outgoing.media_pointer(customer, content.pointer, caption=content.caption)
    if isinstance(content, Location):
        return Outgoing.location(customer, content.latitude, content.longitude,
                                 name=content.name, address=content.address)  # fmt: skip
    return Outgoing.rich(customer, content.to_dict(), content.preview())


class _Clients:
    """The endpoint's client for the turns of one `service` call, made anew every
    CLIENT_SECONDS."""

    def __init__(self, device: LocalDevice, relay_url: str | None) -> None:
        self.device = device
        self.relay_url = relay_url
        self.client: SignalClient | None = None
        self.made = 0.0

    def __call__(self) -> SignalClient:
        now = time.monotonic()
        if self.client is None or now - self.made >= CLIENT_SECONDS:
            self.client, self.made = endpoint_client(self.device, relay_url=self.relay_url), now
        return self.client


def _send_batch(device: LocalDevice, relay_url: str | None, clients: _Clients | None = None) -> int:
    """Encrypt and hand to the relay the number's oldest accepted messages, up to a batch
    (one relay request); fail those the relay refuses. Raises RelayError when the relay
    could not be reached (the messages stay accepted). Returns how many were handled."""
    assert device.phone_number is not None
    batch = list(selectors.list_messages_to_send(device.phone_number, limit=BATCH))
    if not batch:
        return 0
    # Free-form messages outside the customer-service window fail here, asynchronously,
    # as the platform fails them: the send itself was accepted.
    closed = {m.pk for m in batch if not selectors.may_send(m)}
    for pk in closed:
        do_fail_message(pk, *RE_ENGAGEMENT)
    handled, batch = len(batch), [m for m in batch if m.pk not in closed]
    # So do business-initiated messages beyond the business's messaging limit (131048) and
    # marketing templates beyond the customer's per-user marketing limit (131049).
    refused = do_admit_sends(batch)
    batch = [m for m in batch if m.pk not in refused]
    if not batch:
        return handled
    client = (clients or _Clients(device, relay_url))()
    assert isinstance(client.state, DjangoDeviceState)
    base = client.now_ms()
    items = []
    for i, message in enumerate(batch):
        item = outgoing(message.conversation.customer, parse_content(message.content))
        item.timestamp = base + i  # sender + timestamp name a Signal message
        client.state.expect_message(item.peer, item.timestamp, message.pk)
        items.append(item)
    for message, result in zip(batch, client.send_many(items), strict=True):
        if isinstance(result, Exception):
            reason = result.message if isinstance(result, RelayError) else str(result)
            do_fail_message(message.pk, UNDELIVERABLE[0], f"{UNDELIVERABLE[1]}: {reason}")
    if client.state.identity_changes:
        client.state.identity_changes = 0
        announce_identity_changes(device)
    return handled


def announce_identity_changes(device: LocalDevice) -> None:
    """A customer's new identity key met while sending or receiving (a re-install): tell
    the business (customer.identity_changed). A turn calls this when it met one; the sweep
    calls it for every served number, for a notice a failed turn left unannounced."""
    from e2ee.actions import do_announce_identity_changes

    if IdentityChangeNotice.objects.filter(device=device, announced_at__isnull=True).exists():
        do_announce_identity_changes(device)


def _receive_page(clients: _Clients) -> tuple[int, bool]:
    """Fetch, decrypt and ack one page of what the relay queued for the device; returns how
    many envelopes it held and whether more wait."""
    device = clients.device
    received, more = clients().receive_page()
    if any(r.identity_changed for r in received):
        announce_identity_changes(device)
    return len(received), more


def service(
    number: str | LocalDevice,
    *,
    relay_url: str | None = None,
    wait: float = 0,
    send: bool = True,
    receive: bool = True,
) -> tuple[int, int]:
    """Work the endpoint of a number (its E.164 or its device): send its accepted messages
    a batch at a time and fetch, decrypt and ack what the relay queued for it a page at a
    time, turn by turn (a steady stream of sends never starves the receipts), until nothing
    is left, taking the notes of work requested meanwhile (`work.request`) as it goes. One
    worker at a time holds the device: when another one does, leave it a note of what to do
    and return at once. Returns (messages sent, envelopes received)."""
    device = number if isinstance(number, LocalDevice) else business_device(number)
    if device is None:
        return 0, 0
    notes = {SEND: note(device.e164, SEND), RECEIVE: note(device.e164, RECEIVE)}
    wants = {SEND: send, RECEIVE: receive}
    sent = received = 0
    clients = _Clients(device, relay_url)
    while True:
        with device_lock(device.pk, wait=wait) as acquired:
            if not acquired:
                for kind, wanted in wants.items():
                    if wanted:
                        redis_client().set(notes[kind], 1, ex=LOCK_SECONDS)
                return sent, received
            while True:
                taken = _take_notes(notes)
                wants = {kind: wants[kind] or taken[kind] for kind in wants}
                if not any(wants.values()):
                    break
                if wants[SEND]:
                    count = _send_batch(device, relay_url, clients)
                    sent += count
                    wants[SEND] = count >= BATCH
                if wants[RECEIVE]:
                    count, wants[RECEIVE] = _receive_page(clients)
                    received += count
        # A note left between our last look and the release: go round once more.
        if not redis_client().exists(*notes.values()):
            return sent, received
        wait = 0


def _take_notes(notes: dict[str, str]) -> dict[str, bool]:
    pipe = redis_client().pipeline()
    for name in notes.values():
        pipe.get(name)
    pipe.delete(*notes.values())
    values = pipe.execute()
    return {kind: values[i] is not None for i, kind in enumerate(notes)}


def deliver(
    message_id: int, *, e164: str = "", relay_url: str | None = None, wait: float = 30
) -> str:
    """Send an accepted message (→ sent), with whatever else its number has waiting, or
    fail it. Returns the message's status once done ("accepted" when another worker holds
    the endpoint and will send it). Raises RelayError when the relay could not be reached.
    With its number's `e164`, a served number's endpoint goes straight to work."""
    device = business_device(e164) if e164 else None
    if device is None:
        message = (
            Message.objects.select_related("conversation", "conversation__number")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return "skipped"
        number = message.conversation.number
        device = business_device(number)
        if device is None and number.status == PhoneNumber.Status.CONNECTED:
            # A number registered before it was served (seeded, or registered while no
            # worker read the stream) gets its endpoint on its first send.
            device = provision(number)
        if device is None:
            if message.status != lifecycle.ACCEPTED:
                return message.status
            do_fail_message(message_id, *NO_ENDPOINT)
            return "failed"
    # Even when this message went out with an earlier batch, the request that queued this
    # task also stands for what was committed for the number while it waited: send that.
    service(device, relay_url=relay_url, wait=wait, receive=False)
    status = Message.objects.filter(pk=message_id).values_list("status", flat=True).first()
    return status or "skipped"


# -- inbound -----------------------------------------------------------------------------


def pull(e164: str, *, relay_url: str | None = None, wait: float = 0) -> int:
    """Fetch, decrypt and ack what the relay queued for the number's device; returns how
    many envelopes were handled."""
    return service(e164, relay_url=relay_url, wait=wait, send=False)[1]


def send_read_receipts(e164: str, guids: list[str], typing: str | None = None) -> int:
    """Read receipts for envelopes the number received, then, with `typing` (an envelope's
    guid), the typing indicator about it (metadata the relay carries: no session is
    touched, so no device lock). Returns how many read receipts went out."""
    device = business_device(e164)
    if device is None:
        return 0
    relay = endpoint_client(device).relay
    for guid in guids:
        relay.read_receipt(guid)
    if typing:
        relay.typing_indicator(typing)
    return len(guids)
