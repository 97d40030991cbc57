"""A Signal client over the relay: what simulated handsets and business numbers run.

    client = SignalClient(state, relay_url="http://127.0.0.1:8000")
    client.register()                      # verify the number by SMS, register, publish pre-keys
    client.send_text("+14155552671", "hi") # fetch bundle (PQXDH), encrypt, PUT messages
    for item in client.receive():          # GET messages, decrypt, ack (delivery receipt)
        client.mark_read(item)             # read receipt to the sender

State lives in a :class:`~e2ee.client.state.DeviceState` (the Django adapter for real
devices, in memory for unit use). Each protocol call and its bookkeeping run in one
``state.atomic()``; network calls happen outside it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from e2ee.client.attachments import AttachmentStore, InMemoryAttachmentStore
from e2ee.client.relay import DEFAULT_RELAY_URL, RelayError, RelayHttp, b64, unb64, ws_frames
from e2ee.client.sms import CarrierSmsInbox, SmsInbox, code_in
from e2ee.client.state import DeviceState, HistoryItem
from e2ee.protocol import (
    DuplicateMessageError,
    IdentityChange,
    KemPublicKey,
    MessageType,
    PreKeyBundle,
    ProtocolAddress,
    ProtocolError,
    PublicKey,
    backup,
    decrypt,
    encrypt,
    generate_kyber_pre_key,
    generate_last_resort_kyber_pre_key,
    generate_pre_keys,
    generate_signed_pre_key,
    process_prekey_bundle,
)
from e2ee.protocol.fingerprint import Fingerprint, safety_number
from e2ee.protocol.media import EncryptedMedia, MediaType, decrypt_media_bytes, encrypt_media_bytes
from e2ee.protocol.wire import PreKeySignalMessage

# Relay envelope types (Signal's Envelope.Type) and libsignal's ciphertext types.
ENVELOPE_CIPHERTEXT = 1
ENVELOPE_PREKEY = 3
ENVELOPE_RECEIPT = 5
_TO_ENVELOPE = {MessageType.WHISPER: ENVELOPE_CIPHERTEXT, MessageType.PREKEY: ENVELOPE_PREKEY}
_RECEIPT_STATUS = {"delivery": "delivered", "read": "read", "expired": "expired"}
CONTENT_VERSION = 1


@runtime_checkable
class PrefetchingState(Protocol):
    """A :class:`DeviceState` that can read what a unit of work needs of many peers at once
    (the Django store: a query per table instead of several per message)."""

    def prefetch(self, names: Iterable[str]) -> None: ...


class ClientError(Exception):
    """Something the user of the client can act on (not registered, no such peer, …)."""


@dataclass
class Received:
    """One envelope as the app sees it after decryption."""

    guid: str
    kind: str  # "text" | "media" | "receipt" | "undecryptable"
    sender: str | None
    sender_device_id: int | None
    body: str = ""
    attachment: dict[str, Any] | None = None
    receipt_kind: str | None = None
    receipt_guid: str | None = None
    client_timestamp: int = 0
    server_timestamp: int = 0
    identity_changed: bool = False
    error: str | None = None
    # A shared location ({latitude, longitude, name, address}) or, on a text, what it
    # answers ({"id": guid} of the message replied to, "payload" of a tapped suggestion).
    location: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Outgoing:
    """One message to send: its peer, its content as the wire carries it, and what the
    sender's history records of it (`kind`, `body`, `attachment`). `timestamp`: the message's
    client timestamp (ms), which with the sender names it; 0 lets the client choose."""

    peer: str
    content: dict[str, Any]
    kind: str
    body: str
    attachment: dict[str, Any] | None = None
    timestamp: int = 0

    def plaintext(self) -> bytes:
        return json.dumps({"v": CONTENT_VERSION, **self.content}, separators=(",", ":")).encode()

    @classmethod
    def text(cls, peer: str, text: str) -> Outgoing:
        return cls(peer, {"t": "text", "body": text}, "text", text)

    @classmethod
    def location(
        cls, peer: str, latitude: float, longitude: float, *, name: str = "", address: str = ""
    ) -> Outgoing:
        """A location pin."""
        location = {"latitude": latitude, "longitude": longitude, "name": name,
                    "address": address}  # fmt: skip
        return cls(peer, {"t": "location", "location": location}, "location", name,
                   {"location": location})  # fmt: skip

    @classmethod
    def rich(cls, peer: str, message: dict[str, Any], text: str) -> Outgoing:
        """Structured content (a typed message as JSON) with its text for display."""
        return cls(peer, {"t": "rich", "message": message, "body": text},
                   str(message.get("type", "rich")), text, {"content": message})  # fmt: skip

    @classmethod
    def media_pointer(cls, peer: str, pointer: dict[str, Any], *, caption: str = "") -> Outgoing:
        """Media already encrypted and stored (its pointer: id, key, digests, …)."""
        public = {k: pointer[k] for k in ("id", "file_name", "mime_type", "file_length")}
        return cls(peer, {"t": "media", "attachment": pointer, "caption": caption}, "media",
                   caption, public)  # fmt: skip


def _transient(exc: RelayError) -> bool:
    """The relay was unreachable, overloaded or failed: trying again later may work."""
    return exc.status == 0 or exc.status == 429 or exc.status >= 500


def _now_ms() -> int:
    from parley.core import clock  # the injected clock when running inside Parley

    return int(clock.now().timestamp() * 1000)


class SignalClient:
    def __init__(
        self,
        state: DeviceState,
        *,
        relay_url: str | None = None,
        attachments: AttachmentStore | None = None,
        one_time_batch: int = 50,
        kyber_batch: int = 20,
        now_ms: Callable[[], int] = _now_ms,
        sms: SmsInbox | None = None,
        sms_timeout: float = 30.0,
    ) -> None:
        self.state = state
        self.sms: SmsInbox = sms if sms is not None else CarrierSmsInbox()
        self.sms_timeout = sms_timeout
        stored = state.get_credential()
        self.relay = RelayHttp(
            relay_url or (stored[0] if stored else DEFAULT_RELAY_URL),
            stored[1] if stored else None,
        )
        self.attachments = attachments or InMemoryAttachmentStore()
        self.one_time_batch = one_time_batch
        self.kyber_batch = kyber_batch
        self.now_ms = now_ms

    @property
    def e164(self) -> str:
        return self.state.e164

    # -- registration and keys -----------------------------------------------------------

    def register(
        self,
        *,
        kind: str = "handset",
        token: str | None = None,
        registration_lock_pin: str | None = None,
    ) -> dict[str, Any]:
        """Register this device with the relay and publish a full set of pre-keys.

        The primary device of a handset number first proves it controls the number: it opens
        a verification session, has the relay text a code to the number, reads the SMS on
        this phone and submits the code (:meth:`verify_number`). A business number
        authenticates with its business's API token (`token`) instead. A handset number with
        Registration Lock needs its PIN (`registration_lock_pin`) to re-register device 1;
        without it the relay answers 423 (RelayError) and nothing changes. A re-registration
        never receives what was queued for the previous registration."""
        identity = self.state.get_identity_key_pair()
        body: dict[str, Any] = {
            "number": self.e164,
            "kind": kind,
            "device_id": self.state.device_id,
            "registration_id": self.state.get_local_registration_id(),
            "identity_key": b64(identity.public_key.serialize()),
        }
        if kind == "handset" and self.state.device_id == 1:
            body["session_id"] = self.verify_number()
        if registration_lock_pin:
            body["registration_lock"] = registration_lock_pin
        result = self.relay.register(body, token=token)
        self.relay.credential = str(result["credential"])
        with self.state.atomic():
            self.state.set_credential(self.relay.base_url, self.relay.credential)
        self.publish_keys(signed=True, last_resort=True)
        return result

    def verify_number(self) -> str:
        """Prove control of this phone's number: open a verification session, have the relay
        text a code to the number, wait for the SMS on this phone and submit the code.
        Returns the verified session's id."""
        session_id = str(self.relay.start_verification(self.e164)["id"])
        seen = {m.id for m in self.sms.messages(self.e164)}
        self.relay.request_verification_code(session_id)
        deadline = time.monotonic() + self.sms_timeout
        while True:
            code = next(
                (
                    found
                    for m in self.sms.messages(self.e164)
                    if m.id not in seen and (found := code_in(m.body)) is not None
                ),
                None,
            )
            if code is not None:
                break
            if time.monotonic() > deadline:
                raise ClientError(
                    f"no verification SMS reached {self.e164} within {self.sms_timeout:g} s "
                    "(the simulated carrier delivers it from a Celery worker: is one running?)"
                )
            time.sleep(0.1)
        self.relay.submit_verification_code(session_id, code)
        return session_id

    def set_registration_lock(self, pin: str | None) -> bool:
        """Turn Registration Lock on with `pin` (4-20 digits), or off with None. Only the
        primary device of a handset number can; returns whether the lock is now on."""
        if pin is None:
            result = self.relay.clear_registration_lock()
        else:
            result = self.relay.set_registration_lock(pin)
        return bool(result["registration_lock"])

    def publish_keys(
        self, *, signed: bool = False, last_resort: bool = False, ec: int | None = None,
        kyber: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Generate and upload pre-keys (private halves kept in the store first)."""
        identity = self.state.get_identity_key_pair()
        now = self.now_ms()
        ec_count = self.one_time_batch if ec is None else ec
        kyber_count = self.kyber_batch if kyber is None else kyber
        body: dict[str, Any] = {}
        with self.state.atomic():
            if signed:
                key_id = self.state.allocate_key_ids("signed", 1)
                record = generate_signed_pre_key(identity, key_id, now)
                self.state.store_signed_pre_key(record)
                self.state.set_active_signed_pre_key_id(key_id)
                body["signed_pre_key"] = {
                    "key_id": key_id,
                    "public_key": b64(record.key_pair.public_key.serialize()),
                    "signature": b64(record.signature),
                }
            if last_resort:
                key_id = self.state.allocate_key_ids("kyber", 1)
                kem = generate_last_resort_kyber_pre_key(identity, key_id, now)
                self.state.store_kyber_pre_key(kem)
                body["pq_last_resort_pre_key"] = _kem_out(kem.key_id, kem.key_pair.public_key,
                                                          kem.signature)  # fmt: skip
            if kyber_count:
                start = self.state.allocate_key_ids("kyber", kyber_count)
                kems = [
                    generate_kyber_pre_key(identity, start + i, now) for i in range(kyber_count)
                ]
                for kem in kems:
                    self.state.store_kyber_pre_key(kem)
                body["pq_pre_keys"] = [
                    _kem_out(k.key_id, k.key_pair.public_key, k.signature) for k in kems
                ]
            if ec_count:
                start = self.state.allocate_key_ids("ec", ec_count)
                records = generate_pre_keys(start, ec_count)
                for pre_key in records:
                    self.state.store_pre_key(pre_key)
                body["pre_keys"] = [
                    {"key_id": r.key_id, "public_key": b64(r.key_pair.public_key.serialize())}
                    for r in records
                ]
        return self.relay.upload_keys(body)

    def replenish(self) -> bool:
        """Top up pre-keys when the relay says so; True when keys were uploaded."""
        counts = self.relay.key_count()
        if not counts.get("replenish"):
            return False
        self.publish_keys(
            signed=not counts.get("signed_pre_key"),
            last_resort=not counts.get("pq_last_resort"),
            ec=max(0, self.one_time_batch - int(counts.get("count", 0))),
            kyber=max(0, self.kyber_batch - int(counts.get("pq_count", 0))),
        )
        return True

    # -- sessions ------------------------------------------------------------------------

    def start_session(self, peer: str, device: str = "*") -> list[int]:
        """Fetch ``peer``'s pre-key bundles and run X3DH/PQXDH with each device."""
        try:
            claimed = self.relay.bundles(peer, device)
        except RelayError as exc:
            if exc.status == 404:
                raise ClientError(f"{peer} has no registered device with published keys") from exc
            raise
        started: list[int] = []
        for item in claimed["devices"]:
            address = ProtocolAddress(str(claimed["number"]), int(item["device_id"]))
            try:
                bundle = _bundle(item)
                with self.state.atomic():
                    process_prekey_bundle(self.state, address, bundle, now=self.now_ms())
                    self.state.count(key_agreements=1)
            except (ProtocolError, KeyError, ValueError) as exc:
                self.state.count(key_agreements=1, key_agreement_failures=1)
                raise ClientError(f"key agreement with {address} failed: {exc}") from exc
            started.append(address.device_id)
        return started

    def has_session(self, peer: str) -> bool:
        return bool(self.state.session_device_ids(peer))

    # -- sending -------------------------------------------------------------------------

    def send_text(self, peer: str, text: str) -> list[str]:
        return self.send_one(Outgoing.text(peer, text))

    def send_reply(
        self,
        peer: str,
        text: str,
        *,
        reply_to: str | None = None,
        payload: str | None = None,
        referral: dict[str, Any] | None = None,
    ) -> list[str]:
        """A text answering an earlier message (`reply_to`: its guid), the tap of a
        suggested reply (`payload`: the suggestion's id, `text` its title), or the first
        message after tapping an ad (`referral`: the ad)."""
        context: dict[str, Any] = {}
        if reply_to:
            context["id"] = reply_to
        if payload:
            context["payload"] = payload
        if referral:
            context["referral"] = referral
        return self.send_one(
            Outgoing(peer, {"t": "text", "body": text, "context": context}, "text", text)
        )

    def send_location(
        self, peer: str, latitude: float, longitude: float, *, name: str = "", address: str = ""
    ) -> list[str]:
        """Share a location pin."""
        return self.send_one(
            Outgoing.location(peer, latitude, longitude, name=name, address=address)
        )

    def send_rich(self, peer: str, message: dict[str, Any], text: str) -> list[str]:
        """Structured content (a typed message as JSON) with its text for display."""
        return self.send_one(Outgoing.rich(peer, message, text))

    def send_media_pointer(
        self, peer: str, pointer: dict[str, Any], *, caption: str = ""
    ) -> list[str]:
        """Send media already encrypted and stored (its pointer: id, key, digests, …)."""
        return self.send_one(Outgoing.media_pointer(peer, pointer, caption=caption))

    def send_media(
        self,
        peer: str,
        data: bytes,
        *,
        file_name: str = "file",
        mime_type: str = "application/octet-stream",
        caption: str = "",
        media_type: MediaType = MediaType.DOCUMENT,
    ) -> list[str]:
        """Encrypt the file with a fresh media key, store only the ciphertext, and send the
        pointer + key + digests inside the Signal message."""
        ciphertext, info = encrypt_media_bytes(data, media_type)
        pointer = {
            "id": self.attachments.put(ciphertext),
            "media_key": b64(info.media_key),
            "media_type": media_type.name,
            "file_sha256": b64(info.file_sha256),
            "file_enc_sha256": b64(info.file_enc_sha256),
            "file_length": info.file_length,
            "enc_length": info.enc_length,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        return self.send_one(Outgoing.media_pointer(peer, pointer, caption=caption))

    def send_one(self, item: Outgoing) -> list[str]:
        """Send one message in its own request, as a phone does; raises what refused it."""
        [result] = self.send_many([item], batch=False)
        if isinstance(result, Exception):
            raise result
        return result

    def send_many(
        self, items: list[Outgoing], *, batch: bool = True
    ) -> list[list[str] | ClientError | RelayError]:
        """Send several messages, to one peer or many: encrypt them all in one unit of
        work and hand them to the relay in one request (`batch=False`: one request per
        message, as a phone sends). Each item's result is its envelope guids, or the error
        that refused it (the others still go). Raises RelayError only when the relay could
        not be reached or is overloaded, before anything was sent."""
        results: dict[int, list[str] | ClientError | RelayError] = {}
        base = self.now_ms()
        stamps = [item.timestamp or base + i for i, item in enumerate(items)]
        pending = list(range(len(items)))
        for _ in range(4):
            ready = self._with_sessions({items[i].peer for i in pending})
            for i in pending:
                peer = items[i].peer
                if peer in ready:
                    continue
                try:
                    self.start_session(peer)
                    ready.add(peer)
                except RelayError as exc:
                    if _transient(exc):
                        raise
                    results[i] = exc
                except ClientError as exc:
                    results[i] = exc
                if i in results and self.has_session(peer):
                    ready.add(peer)  # some of its devices agreed before one failed
            pending = [i for i in pending if i not in results]
            if not pending:
                break
            with self.state.atomic():
                self._prefetch({items[i].peer for i in pending})
                parts = [
                    {
                        "destination": items[i].peer,
                        "timestamp": stamps[i],
                        "messages": self._encrypt_for(items[i].peer, items[i].plaintext()),
                    }
                    for i in pending
                ]
            outcomes = dict(zip(pending, self._hand_over(parts, batch=batch), strict=True))
            with self.state.atomic():
                for i, outcome in outcomes.items():
                    if not isinstance(outcome, RelayError):
                        results[i] = self._record_sent(items[i], stamps[i], outcome)
            # Fixing sessions fetches keys from the relay: outside any unit of work, so no
            # transaction is held open across a network call.
            retry: list[int] = []
            for i, outcome in outcomes.items():
                if isinstance(outcome, RelayError):
                    if self._fix_devices(items[i].peer, outcome):
                        retry.append(i)
                    else:
                        results[i] = outcome
            pending = retry
            if not pending:
                break
        for i in pending:
            results[i] = ClientError(f"could not agree on {items[i].peer}'s devices with the relay")
        return [results[i] for i in range(len(items))]

    def _prefetch(self, peers: set[str]) -> None:
        """Tell a state that reads in bulk which peers the current unit of work will use."""
        if isinstance(self.state, PrefetchingState):
            self.state.prefetch(sorted(peers))

    def _with_sessions(self, peers: set[str]) -> set[str]:
        """Those of `peers` we hold a session with (one read for all of them)."""
        with self.state.atomic():
            self._prefetch(peers)
            return {peer for peer in peers if self.state.session_device_ids(peer)}

    def _encrypt_for(self, peer: str, plaintext: bytes) -> list[dict[str, Any]]:
        """One ciphertext per device of the peer we hold a session with."""
        messages = []
        for device_id in self.state.session_device_ids(peer):
            address = ProtocolAddress(peer, device_id)
            record = self.state.load_session(address)
            message_type, data = encrypt(self.state, address, plaintext)
            out: dict[str, Any] = {
                "type": _TO_ENVELOPE[message_type],
                "destination_device_id": device_id,
                "content": b64(data),
            }
            if record is not None and record.current is not None:
                out["destination_registration_id"] = record.current.remote_registration_id
            messages.append(out)
        return messages

    def _hand_over(
        self, parts: list[dict[str, Any]], *, batch: bool
    ) -> list[list[dict[str, Any]] | RelayError]:
        """Give the relay each part; a part's outcome is its sent messages or its error."""
        if batch:
            outcomes: list[list[dict[str, Any]] | RelayError] = []
            for result in self.relay.send_batch(parts):
                if int(result.get("status", 0)) == 200:
                    outcomes.append(list(result["messages"]))
                else:
                    outcomes.append(RelayError(int(result.get("status", 0)), result))
            return outcomes
        single: list[list[dict[str, Any]] | RelayError] = []
        for part in parts:
            try:
                sent = self.relay.send(part["destination"], part["timestamp"], part["messages"])
                single.append(list(sent["messages"]))
            except RelayError as exc:
                if _transient(exc):
                    raise
                single.append(exc)
        return single

    def _record_sent(self, item: Outgoing, timestamp: int, sent: list[dict[str, Any]]) -> list[str]:
        for m in sent:
            self.state.add_message(
                HistoryItem(
                    direction="out",
                    peer=item.peer,
                    peer_device_id=int(m["device_id"]),
                    guid=str(m["guid"]),
                    kind=item.kind,
                    body=item.body,
                    status="sent",
                    client_timestamp=timestamp,
                    attachment=item.attachment,
                )
            )
        return [str(m["guid"]) for m in sent]

    def _fix_devices(self, peer: str, exc: RelayError) -> bool:
        """409 (devices missing/extra) and 410 (stale: reinstalled) → fix sessions, retry."""
        data = exc.error_data
        if exc.status == 409:
            for device_id in data.get("extra_devices", []):
                self.state.delete_session(ProtocolAddress(peer, int(device_id)))
            for device_id in data.get("missing_devices", []):
                self.start_session(peer, str(device_id))
            return True
        if exc.status == 410:
            for device_id in data.get("stale_devices", []):
                self.state.delete_session(ProtocolAddress(peer, int(device_id)))
                self.start_session(peer, str(device_id))
            return True
        return False

    # -- receiving -----------------------------------------------------------------------

    def receive(self, *, ack: bool = True) -> list[Received]:
        """Poll the relay: decrypt every queued envelope (oldest first) and ack them, a page
        at a time."""
        results: list[Received] = []
        while True:
            page, more = self.receive_page(ack=ack)
            results += page
            if not more or not page or not ack:
                break
        return results

    def receive_page(self, *, ack: bool = True) -> tuple[list[Received], bool]:
        """One page of the queue: decrypt it in one unit of work, ack it in one request;
        returns it and whether more wait."""
        envelopes, more = self.relay.fetch()
        with self.state.atomic():
            page = [self.process_envelope(envelope) for envelope in envelopes]
        if ack and envelopes:
            self.relay.ack_many([str(envelope["guid"]) for envelope in envelopes])
        if any(r.raw.get("type") == ENVELOPE_PREKEY for r in page):
            self.replenish()  # new sessions took one-time pre-keys
        return page, more

    def listen(
        self,
        *,
        idle_timeout: float = 2.0,
        max_seconds: float = 30.0,
        until: Callable[[list[Received]], bool] | None = None,
    ) -> list[Received]:
        """Receive over the websocket: the backlog, then live envelopes, acking each, until
        ``until(received)`` is true, nothing arrives for ``idle_timeout`` s, or time is up."""
        results: list[Received] = []
        pending_acks: set[str] = set()
        deadline = time.monotonic() + max_seconds
        with self.relay.websocket() as ws:
            for frame in ws_frames(ws, idle_timeout):
                kind = frame.get("type")
                if kind == "envelope":
                    envelope = dict(frame["envelope"])
                    results.append(self.process_envelope(envelope))
                    pending_acks.add(str(envelope["guid"]))
                    ws.send(json.dumps({"type": "ack", "guid": envelope["guid"]}))
                elif kind == "acked":
                    pending_acks.discard(str(frame.get("guid")))
                elif kind == "keys_low":
                    self.replenish()
                done = until is not None and until(results)
                if (done or time.monotonic() > deadline) and not pending_acks:
                    break
        return results

    def process_envelope(self, envelope: dict[str, Any]) -> Received:
        """Decrypt one envelope and record it; never raises for a bad message (it is
        counted as a decryption failure and kept as an "undecryptable" history item)."""
        base: dict[str, Any] = {
            "guid": str(envelope["guid"]),
            "sender": envelope.get("source"),
            "sender_device_id": envelope.get("source_device_id"),
            "client_timestamp": int(envelope.get("client_timestamp") or 0),
            "server_timestamp": int(envelope.get("server_timestamp") or 0),
            "raw": envelope,
        }
        receipt = envelope.get("receipt")
        if receipt:
            status = _RECEIPT_STATUS.get(str(receipt["kind"]))
            if status is not None:  # a typing indicator moves no message's status
                # One write of its own (or, inside a unit of work, one the unit makes at
                # its end): no unit of its own, which would cost each receipt of a page a
                # savepoint.
                self.state.set_message_status(str(receipt["guid"]), status)
            return Received(
                kind="receipt",
                receipt_kind=str(receipt["kind"]),
                receipt_guid=str(receipt["guid"]),
                **base,
            )
        sender = str(envelope.get("source") or "")
        address = ProtocolAddress(sender, int(envelope.get("source_device_id") or 1))
        changed: list[ProtocolAddress] = []
        new_session = False
        try:
            data = unb64(str(envelope.get("content") or ""))
            envelope_type = int(envelope["type"])
            if envelope_type == ENVELOPE_PREKEY:
                message_type = MessageType.PREKEY
                parsed = PreKeySignalMessage.parse(data)
                record = self.state.load_session(address)
                new_session = (
                    record is None or record.find_matching(parsed.version, parsed.base_key) is None
                )
            elif envelope_type == ENVELOPE_CIPHERTEXT:
                message_type = MessageType.WHISPER
            else:
                raise ClientError(f"unsupported envelope type {envelope_type}")
            with self.state.atomic():
                plaintext = decrypt(
                    self.state,
                    address,
                    message_type,
                    data,
                    on_identity_change=lambda a, _k: changed.append(a),
                )
                received = self._open_content(plaintext, base)
                received.identity_changed = bool(changed)
                self.state.add_message(
                    HistoryItem(
                        direction="in",
                        peer=sender,
                        peer_device_id=address.device_id,
                        guid=received.guid,
                        kind=received.kind,
                        body=received.body,
                        status="received",
                        client_timestamp=received.client_timestamp,
                        attachment=received.attachment,
                        context=received.context,
                    )
                )
                self.state.count(decryptions=1, key_agreements=int(new_session))
            return received
        except DuplicateMessageError:
            return Received(kind="duplicate", error="already received", **base)
        except (ProtocolError, ClientError, ValueError, KeyError) as exc:
            with self.state.atomic():
                self.state.count(
                    decryptions=1,
                    decryption_failures=1,
                    key_agreements=int(new_session),
                    key_agreement_failures=int(new_session),
                )
                self.state.add_message(
                    HistoryItem(
                        direction="in",
                        peer=sender,
                        peer_device_id=address.device_id,
                        guid=str(envelope["guid"]),
                        kind="undecryptable",
                        body="",
                        status="failed",
                        client_timestamp=int(base["client_timestamp"] or 0),
                    )
                )
            return Received(kind="undecryptable", error=f"{type(exc).__name__}: {exc}", **base)

    def _open_content(self, plaintext: bytes, base: dict[str, Any]) -> Received:
        content = json.loads(plaintext)
        if not isinstance(content, dict) or content.get("v") != CONTENT_VERSION:
            raise ValueError("unknown content format")
        if content.get("t") == "text":
            context = content.get("context")
            return Received(kind="text", body=str(content["body"]),
                            context=dict(context) if isinstance(context, dict) and context
                            else None, **base)  # fmt: skip
        if content.get("t") == "location":
            pin = dict(content["location"])
            location = {
                "latitude": float(pin["latitude"]),
                "longitude": float(pin["longitude"]),
                "name": str(pin.get("name", "")),
                "address": str(pin.get("address", "")),
            }
            return Received(
                kind="location",
                body=str(location["name"]),
                location=location,
                attachment={"location": location},
                **base,
            )
        if content.get("t") == "media":
            pointer = dict(content["attachment"])
            public = {k: pointer[k] for k in ("id", "file_name", "mime_type", "file_length")}
            public["pointer"] = pointer  # the key stays on this device (our own history)
            return Received(
                kind="media", body=str(content.get("caption", "")), attachment=public, **base
            )
        if content.get("t") == "rich":
            # Structured business content (interactive, template, card, …): the phone shows
            # its text and keeps the typed form.
            message = dict(content["message"])
            return Received(kind=str(message.get("type", "rich")), body=str(content["body"]),
                            attachment={"content": message}, **base)  # fmt: skip
        raise ValueError(f"unknown content type {content.get('t')!r}")

    def download(self, attachment: dict[str, Any]) -> bytes:
        """Fetch an attachment's ciphertext and decrypt it (checks both digests and the MAC)."""
        pointer = dict(attachment.get("pointer", attachment))
        info = EncryptedMedia(
            media_key=unb64(pointer["media_key"]),
            media_type=MediaType[pointer["media_type"]],
            file_sha256=unb64(pointer["file_sha256"]),
            file_enc_sha256=unb64(pointer["file_enc_sha256"]),
            file_length=int(pointer["file_length"]),
            enc_length=int(pointer["enc_length"]),
        )
        return decrypt_media_bytes(self.attachments.get(str(pointer["id"])), info)

    def mark_read(self, message: Received | str) -> None:
        """Send a read receipt for a received message."""
        self.relay.read_receipt(message if isinstance(message, str) else message.guid)

    # -- verification --------------------------------------------------------------------

    def safety_number(self, peer: str, device_id: int = 1) -> Fingerprint:
        their_key = self.state.get_identity(ProtocolAddress(peer, device_id))
        if their_key is None:
            raise ClientError(f"no identity known for {peer}: exchange a message first")
        ours = self.state.get_identity_key_pair().public_key
        return safety_number(self.e164, ours, peer, their_key)

    def identity_changes(self) -> list[IdentityChange]:
        return self.state.list_identity_changes()

    # -- backup --------------------------------------------------------------------------

    def export_backup(
        self, *, recovery_key: str | None = None, password: str | None = None
    ) -> bytes:
        history = [m.to_dict() for m in self.state.list_messages()]
        return backup.export_backup(
            self.state.export_store(),
            history,
            created_at=self.now_ms(),
            recovery_key=recovery_key,
            password=password,
        )


def _kem_out(key_id: int, public_key: KemPublicKey, signature: bytes) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "public_key": b64(public_key.serialize()),
        "signature": b64(signature),
    }


def _bundle(item: dict[str, Any]) -> PreKeyBundle:
    signed = item["signed_pre_key"]
    pre_key = item.get("pre_key")
    kyber = item.get("pq_pre_key")
    return PreKeyBundle(
        registration_id=int(item["registration_id"]),
        device_id=int(item["device_id"]),
        signed_pre_key_id=int(signed["key_id"]),
        signed_pre_key=PublicKey.deserialize(unb64(signed["public_key"])),
        signed_pre_key_signature=unb64(signed["signature"]),
        identity_key=PublicKey.deserialize(unb64(item["identity_key"])),
        pre_key_id=int(pre_key["key_id"]) if pre_key else None,
        pre_key=PublicKey.deserialize(unb64(pre_key["public_key"])) if pre_key else None,
        kyber_pre_key_id=int(kyber["key_id"]) if kyber else None,
        kyber_pre_key=KemPublicKey.deserialize(unb64(kyber["public_key"])) if kyber else None,
        kyber_pre_key_signature=unb64(kyber["signature"]) if kyber else None,
    )
