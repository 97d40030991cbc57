"""The handset fleet: thousands of simulated customers' phones in one asyncio process.

Each handset is a registered Signal device with its own e2ee store (the Django adapter).
An online handset holds one relay websocket; every envelope pushed to it is decrypted in a
worker thread (the protocol and the store are synchronous; one handset's work is serialised
by its lock, different handsets run side by side), then acknowledged at once — the relay turns
the ack into a delivery receipt for the sender. When the handset's user has a read delay, a
read receipt is scheduled that many seconds of simulated time later (`parley.core.clock`)
and sent by the fleet's read ticker. An offline handset holds no connection; what is queued
for it arrives from the relay's backlog when it comes back online (the relay's 30-day expiry
applies meanwhile).

The control channel (an HTTP API on loopback, see README.md) creates handsets, sends for
them, reads their inboxes and takes them on- and offline. Which handsets exist, whether each
is online and its read delay live in the database, so a restarted fleet resumes them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import functools
import hmac
import ipaddress
import json
import logging
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from django.db import close_old_connections

from e2ee import selectors as e2ee_selectors
from e2ee.actions import client_for, do_create_device, do_discard_unregistered_device
from e2ee.attachments import StorageAttachmentStore
from e2ee.client import ClientError, Received, RelayError, SignalClient
from e2ee.client.aio import AsyncRelay
from e2ee.client.client import Outgoing
from e2ee.client.state import HistoryItem
from e2ee.handsets import actions, faults, selectors
from e2ee.handsets.conf import control_token
from e2ee.handsets.models import FleetHandset
from e2ee.models import LocalDevice
from e2ee.protocol import ProtocolError
from e2ee.protocol.media import MediaType
from parley.core import clock
from parley.core.errors import Conflict, ParleyError

log = logging.getLogger("parley.handsets")
T = TypeVar("T")

CLOSE_UNAUTHENTICATED = 4401
SHOWN_KINDS = ("text", "media", "location")
# What a customer sends as structured content (`Outgoing.rich`), besides text, files and pins.
RICH_KINDS = ("interactive_reply", "action_tap", "reaction", "contacts")
UNREADABLE_KINDS = frozenset({"undecryptable", "duplicate", "receipt"})
MAX_TITLE = 1024
MAX_CONTROL_BODY = 8 * 1024 * 1024
PHONE_EC_KEYS = 20
PHONE_KEM_KEYS = 12


@dataclass(eq=False)
class Handset:
    """One phone as the fleet holds it in memory: little more than its websocket."""

    e164: str
    device_pk: int
    pk: int
    credential: str
    online: bool
    read_delay: float | None
    source_address: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    synced: bool = False  # connected and the backlog drained
    client: SignalClient | None = None  # built on first use, in a worker thread
    offline_since: dt.datetime | None = None  # simulated time (the offline fault number)


def own_address(device_pk: int) -> str:
    """A loopback address of the handset's own (Linux routes all of 127/8 to lo): phones
    on a carrier do not share one address, so per-address limits see one phone each."""
    n = device_pk - 1
    return f"127.{(n // (254 * 256)) % 254 + 1}.{(n // 254) % 256}.{n % 254 + 1}"


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FleetError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Fleet:
    def __init__(
        self,
        relay_url: str,
        *,
        workers: int = 4,
        connect_concurrency: int = 32,
        tick_seconds: float = 0.2,
        own_addresses: bool | None = None,
        fault_numbers: bool = True,
    ) -> None:
        self.relay_url = relay_url.rstrip("/")
        self.relay = AsyncRelay(self.relay_url)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="handset")
        # Registration mostly waits (for the carrier's SMS, for the relay): its own threads.
        self.registrations = ThreadPoolExecutor(max_workers=6, thread_name_prefix="register")
        self.tick_seconds = tick_seconds
        self.own_addresses = (
            own_addresses
            if own_addresses is not None
            else sys.platform.startswith("linux") and _loopback(self.relay_url)
        )
        self.handsets: dict[str, Handset] = {}
        self.by_pk: dict[int, Handset] = {}
        self._gate = asyncio.Semaphore(connect_concurrency)
        self._stopping = False
        self._background: set[asyncio.Task[Any]] = set()
        # The fault numbers (e2ee.handsets.faults): created at start unless turned off.
        self.fault_numbers = fault_numbers
        self.faults_ready = False
        self.fault_checked_at: dt.datetime | None = None  # the last look at the offline one
        self._reinstalling: set[str] = set()

    # -- threads ---------------------------------------------------------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run Django/store work in a worker thread (each thread keeps its DB connection)."""

        def job() -> T:
            close_old_connections()
            return fn(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self.pool, job)

    async def locked(self, handset: Handset, fn: Callable[[SignalClient], T]) -> T:
        """Run protocol work of one handset, never two at once (its ratchets are shared)."""
        async with handset.lock:
            return await self.db(lambda: fn(self._client(handset)))

    def _client(self, handset: Handset) -> SignalClient:
        if handset.client is None:
            device = LocalDevice.objects.get(pk=handset.device_pk)
            # The fleet is the one writer of the stores of the phones it runs.
            client = client_for(device, self.relay_url, sole_writer=True)
            client.relay.source_address = handset.source_address
            handset.client = client
        return handset.client

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- lifecycle ---------------------------------------------------------------------------

    def _handset(self, row: FleetHandset) -> Handset:
        stored = client_for(row.device).state.get_credential()
        return Handset(
            e164=row.device.e164,
            device_pk=row.device.pk,
            pk=row.pk,
            credential=stored[1] if stored else "",
            online=row.online,
            read_delay=row.read_delay_seconds,
            source_address=own_address(row.device.pk) if self.own_addresses else None,
            offline_since=row.offline_since,
        )

    def _load(self) -> list[Handset]:
        return [self._handset(row) for row in selectors.list_fleet_handsets()]

    async def start(self) -> None:
        for handset in await self.db(self._load):
            self._adopt(handset)
        self._spawn(self._read_ticker())
        if self.fault_numbers:
            self._spawn(self._provision_faults())
        log.info(
            "fleet: %d handsets (%d online), relay %s",
            len(self.handsets),
            sum(h.online for h in self.handsets.values()),
            self.relay_url,
        )

    async def stop(self) -> None:
        self._stopping = True
        for task in list(self._background):
            task.cancel()
        for handset in self.handsets.values():
            if handset.ws is not None:
                with contextlib.suppress(Exception):
                    await handset.ws.close()
            if handset.task is not None:
                handset.task.cancel()
        tasks = [h.task for h in self.handsets.values() if h.task is not None]
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)
        await self.relay.close()
        self.pool.shutdown(wait=True)
        self.registrations.shutdown(wait=True)

    def _adopt(self, handset: Handset) -> None:
        old = self.handsets.get(handset.e164)
        if old is not None:
            self.by_pk.pop(old.pk, None)
        self.handsets[handset.e164] = handset
        self.by_pk[handset.pk] = handset
        if handset.online and handset.credential:
            self._connect(handset)

    def _connect(self, handset: Handset) -> None:
        if handset.task is None or handset.task.done():
            handset.task = asyncio.ensure_future(self._connection(handset))

    async def _disconnect(self, handset: Handset) -> None:
        handset.online = False
        if handset.ws is not None:
            with contextlib.suppress(Exception):
                await handset.ws.close()
        if handset.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(handset.task), 10)
        handset.synced = False

    # -- the relay connection ----------------------------------------------------------------

    async def _connection(self, handset: Handset) -> None:
        backoff = 0.5
        while handset.online and not self._stopping:
            close_code: int | None = None
            try:
                async with self._gate:
                    ws = await self.relay.websocket(handset.credential)
                handset.ws = ws
                async for frame in ws:
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        break
                    await self._on_frame(handset, ws, json.loads(frame.data))
                    if handset.synced:
                        backoff = 0.5
                close_code = ws.close_code
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.info("fleet: %s connection: %s", handset.e164, exc)
            except Exception:  # a store or database failure: nothing acked, retry later
                log.exception("fleet: %s failed while receiving", handset.e164)
            finally:
                if handset.ws is not None:
                    with contextlib.suppress(Exception):
                        await handset.ws.close()
                handset.ws = None
                handset.synced = False
            if not handset.online or self._stopping:
                break
            if close_code == CLOSE_UNAUTHENTICATED and not await self._reload(handset):
                log.warning("fleet: %s is no longer registered here; stopping it", handset.e164)
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _reload(self, handset: Handset) -> bool:
        """The relay closed us as unauthenticated: another registration replaced this one.
        Take the stored credential again (the device may have been restored or recreated)."""
        row = await self.db(selectors.get_fleet_handset, handset.e164)
        if row is None:
            return False
        fresh = await self.db(self._handset, row)
        if not fresh.credential or fresh.credential == handset.credential:
            return False
        handset.credential, handset.device_pk, handset.client = (
            fresh.credential,
            fresh.device_pk,
            None,
        )
        return True

    async def _on_frame(
        self, handset: Handset, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]
    ) -> None:
        kind = frame.get("type")
        if kind == "envelope":
            envelope = dict(frame["envelope"])
            received = await self.locked(handset, lambda c: self._receive(handset, c, envelope))
            # Decrypted and stored: acknowledge at once (the sender's delivery receipt).
            await ws.send_str(json.dumps({"type": "ack", "guid": envelope["guid"]}))
            self._after_receive(handset, received)
        elif kind == "queue_empty":
            handset.synced = True
        elif kind == "keys_low":
            self._spawn(self._replenish(handset))

    def _receive(
        self, handset: Handset, client: SignalClient, envelope: dict[str, Any]
    ) -> Received:
        received = client.process_envelope(envelope)
        if received.kind in SHOWN_KINDS and handset.read_delay is not None:
            actions.do_schedule_read(handset.pk, received.guid, handset.read_delay)
        _note_typing(handset, [received])
        return received

    def _fetch(self, handset: Handset) -> Awaitable[list[Received]]:
        """An offline phone fetches its queue (the user opened the app)."""

        def fetch(client: SignalClient) -> list[Received]:
            fetched = client.receive()
            _note_typing(handset, fetched)
            return fetched

        return self.locked(handset, fetch)

    async def _replenish(self, handset: Handset) -> None:
        try:
            await self.locked(handset, lambda c: c.replenish())
        except (RelayError, ClientError) as exc:
            log.warning("fleet: %s could not replenish pre-keys: %s", handset.e164, exc)

    # -- reading after a delay -----------------------------------------------------------------

    async def _read_ticker(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.tick_seconds)
            try:
                await self.send_due_reads()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet: read receipts failed; retrying")
            try:
                await self.wake_offline_fault()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet: the offline fault number failed to wake; retrying")

    async def send_due_reads(self) -> int:
        due = await self.db(selectors.list_due_reads)
        done: list[int] = []

        async def one(read: selectors.DueRead) -> None:
            handset = self.by_pk.get(read.handset_pk)
            if handset is None:
                done.append(read.id)
                return
            try:
                await self.relay.read_receipt(handset.credential, read.guid)
            except RelayError as exc:
                if exc.status == 0 or exc.status >= 500:
                    return  # try again on the next tick
                log.info("fleet: %s read receipt dropped: %s", handset.e164, exc)
            done.append(read.id)

        online = [r for r in due if (h := self.by_pk.get(r.handset_pk)) is None or h.online]
        await asyncio.gather(*(one(r) for r in online))
        if done:
            await self.db(actions.do_complete_reads, done)
        return len(done)

    # -- the fault numbers (e2ee.handsets.faults) -----------------------------------------------

    async def _provision_faults(self) -> None:
        """Create the fault numbers' phones that are missing (idempotent: a restarted fleet
        finds them), and set what the relay must know (the block)."""
        results = await asyncio.gather(
            *(self._provision_fault(n) for n in faults.FLEET_NUMBERS), return_exceptions=True
        )
        failed = [
            (n, r) for n, r in zip(faults.FLEET_NUMBERS, results, strict=True) if r is not None
        ]
        for number, exc in failed:
            log.error("fleet: fault number %s could not be set up: %s", number, exc)
        self.faults_ready = not failed
        log.info("fleet: fault numbers %s", "ready" if not failed else "incomplete")

    async def _provision_fault(self, number: str) -> None:
        offline = number == faults.OFFLINE_FOR_A_WHILE
        handset = self.handsets.get(number)  # `start` loaded the stored ones
        if handset is None or not handset.credential:
            # `reinstall`: a leftover local device of the number (never registered) goes.
            await self.create(number, online=not offline, reinstall=True, internal=True)
            handset = self.get(number)
        if number == faults.BLOCKED_THE_BUSINESS:
            await self.locked(handset, lambda c: c.relay.set_business_block(True))
            row = await self.db(selectors.get_fleet_handset, number)
            if row is not None:
                await self.db(actions.do_set_handset_blocks, row, True)
        if offline:
            if handset.online:
                row = await self.db(selectors.get_fleet_handset, number)
                if row is not None:
                    await self.db(actions.do_set_handset_online, row, False)
                await self._disconnect(handset)
            if handset.offline_since is None:
                now = await self.db(clock.now)
                await self.db(actions.do_mark_offline_since, handset.pk, now)
                handset.offline_since = now

    async def wake_offline_fault(self) -> bool:
        """The offline fault number comes online once it has been offline for the stretch
        (simulated time): it fetches its queue (acknowledged: the senders' delivery
        receipts) and goes offline again. Returns whether it woke."""
        handset = self.handsets.get(faults.OFFLINE_FOR_A_WHILE)
        if handset is None or handset.online or not handset.credential:
            return False
        now = await self.db(clock.now)
        since = handset.offline_since
        woke = since is not None and now - since >= faults.OFFLINE_STRETCH
        if woke:
            await self._fetch(handset)
            await self.db(actions.do_mark_offline_since, handset.pk, now)
            handset.offline_since = now
        self.fault_checked_at = now
        return woke

    def _after_receive(self, handset: Handset, received: Received) -> None:
        """What a fault number does once a message is in (and acknowledged)."""
        if received.kind in UNREADABLE_KINDS or received.kind == "undecryptable":
            return
        sender = received.sender
        if not sender:
            return
        if handset.e164 == faults.REPLIES_AUTOMATICALLY:
            self._spawn(self._auto_reply(handset, sender))
        elif handset.e164 == faults.CHANGES_DEVICE and handset.e164 not in self._reinstalling:
            self._reinstalling.add(handset.e164)
            self._spawn(self._change_device(handset.e164))

    async def _auto_reply(self, handset: Handset, to: str) -> None:
        try:
            await self.locked(handset, lambda c: c.send_text(to, faults.AUTO_REPLY_TEXT))
        except (RelayError, ClientError) as exc:
            log.warning("fleet: %s could not auto-reply to %s: %s", handset.e164, to, exc)

    async def _change_device(self, number: str) -> None:
        """Re-install: a new identity key and registration (`create --reinstall`)."""
        try:
            await self.create(number, online=True, reinstall=True, internal=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fleet: %s could not re-install", number)
        finally:
            self._reinstalling.discard(number)

    def _built_in(self, number: str) -> None:
        if faults.is_fault_number(number):
            raise FleetError(
                400,
                f"{number} is a fault number with built-in behaviour "
                f"({faults.BY_NUMBER[number].title}): it cannot be created or driven.",
            )

    # -- control operations --------------------------------------------------------------------

    def get(self, number: str) -> Handset:
        handset = self.handsets.get(number)
        if handset is None:
            raise FleetError(404, f"{number} is not a handset of this fleet.")
        return handset

    def describe(self, handset: Handset) -> dict[str, Any]:
        fault = faults.BY_NUMBER.get(handset.e164)
        return {
            "number": handset.e164,
            "online": handset.online,
            "connected": handset.synced,
            "read_delay_seconds": handset.read_delay,
            "source_address": handset.source_address,
            "fault": fault.behaviour if fault else None,
        }

    def health(self) -> dict[str, Any]:
        values = self.handsets.values()
        return {
            "relay": self.relay_url,
            "handsets": len(self.handsets),
            "online": sum(h.online for h in values),
            "connected": sum(h.synced for h in values),
            "fault_numbers": self.faults_ready,
            "fault_checked_at": (
                self.fault_checked_at.isoformat() if self.fault_checked_at else None
            ),
        }

    def _create_sync(
        self,
        number: str,
        *,
        reinstall: bool,
        pin: str | None,
        online: bool,
        delay: float | None,
        business_id: int | None = None,
        language: str | None = None,
    ) -> tuple[Handset, dict[str, Any]]:
        device = do_create_device(number, replace=reinstall)
        try:
            client = client_for(device, self.relay_url)
            client.relay.source_address = own_address(device.pk) if self.own_addresses else None
            # A phone talks to a few businesses: a small stock of one-time keys, topped up
            # when the relay says it runs low.
            client.one_time_batch, client.kyber_batch = PHONE_EC_KEYS, PHONE_KEM_KEYS
            result = client.register(registration_lock_pin=pin)
        except BaseException:
            do_discard_unregistered_device(device.e164)
            raise
        row = actions.do_enlist_handset(
            device, online=online, read_delay_seconds=delay, business_id=business_id,
            language=language,
        )  # fmt: skip
        row.device = device
        return self._handset(row), {
            "device_id": result["device_id"],
            "registration_id": device.registration_id,
        }

    async def create(
        self,
        number: str,
        *,
        online: bool = True,
        read_delay_seconds: float | None = None,
        pin: str | None = None,
        reinstall: bool = False,
        business_id: int | None = None,
        language: str | None = None,
        internal: bool = False,
    ) -> dict[str, Any]:
        """A new phone: verify the number by SMS, register, publish keys, join the fleet
        (`business_id`: the business whose simulated customer it is). The fault numbers are
        the fleet's own (`internal`): nobody else creates them."""
        if not internal:
            self._built_in(number)
        old = self.handsets.get(number)
        if old is not None and reinstall:
            await self._disconnect(old)
        elif old is not None:
            raise FleetError(409, f"A local device for {number} already exists.")

        def job() -> tuple[Handset, dict[str, Any]]:
            close_old_connections()
            return self._create_sync(
                number, reinstall=reinstall, pin=pin, online=online, delay=read_delay_seconds,
                business_id=business_id, language=language,
            )  # fmt: skip

        loop = asyncio.get_running_loop()
        handset, registration = await loop.run_in_executor(self.registrations, job)
        self._adopt(handset)
        return {**self.describe(handset), **registration}

    async def enlist(self, number: str) -> Handset:
        """A handset device created elsewhere (e.g. by the command without a fleet) joins."""
        handset = self.handsets.get(number)
        if handset is not None:
            return handset

        def enlist_sync() -> Handset:
            device = e2ee_selectors.get_device(number)
            existing = selectors.get_fleet_handset(device.e164)
            row = existing or actions.do_enlist_handset(device, online=False)
            row.device = device
            return self._handset(row)

        handset = await self.db(enlist_sync)
        if not handset.credential:
            raise FleetError(409, f"{number} is not registered with the relay: create it first.")
        self._adopt(handset)
        return handset

    async def update(
        self,
        number: str,
        *,
        online: bool | None = None,
        read_delay: Any = ...,
        blocks: bool | None = None,
    ) -> dict[str, Any]:
        self._built_in(number)
        handset = await self.enlist(number)
        row = await self.db(selectors.get_fleet_handset, handset.e164)
        if row is None:
            raise FleetError(404, f"{number} left the fleet.")
        if blocks is not None and blocks != row.blocks_businesses:
            # The user blocks (or unblocks) businesses: the relay keeps the list.
            await self.locked(handset, lambda c: c.relay.set_business_block(blocks))
            await self.db(actions.do_set_handset_blocks, row, blocks)
        if read_delay is not ...:
            await self.db(actions.do_set_read_delay, row, read_delay)
            handset.read_delay = read_delay
        if online is not None and online != handset.online:
            await self.db(actions.do_set_handset_online, row, online)
            if online:
                handset.online = True
                self._connect(handset)
            else:
                await self._disconnect(handset)
        return self.describe(handset)

    async def wait_connected(self, handset: Handset, timeout: float = 15) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while handset.online and not handset.synced and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return handset.synced

    async def send(self, number: str, body: dict[str, Any]) -> list[str]:
        """Send for the handset: text, a reply / suggestion tap, a file or a location."""
        handset = await self.enlist(number)
        to = body.get("to")
        if not isinstance(to, str) or not to:
            raise FleetError(400, "Give `to`: the number to send to.")
        kind = body.get("type", "text")
        text = body.get("text", "")
        if not isinstance(text, str):
            raise FleetError(400, "`text` must be a string.")
        send: Callable[[SignalClient], list[str]]
        if kind == "text":
            if not text:
                raise FleetError(400, "nothing to send: give a text or a file")
            reply_to, payload = body.get("reply_to"), body.get("payload")
            referral = body.get("referral")
            if referral is not None and not isinstance(referral, dict):
                raise FleetError(400, "`referral` must be an object.")
            if reply_to or payload or referral:
                send = functools.partial(_reply, to=to, text=text, reply_to=reply_to,
                                         payload=payload, referral=referral)  # fmt: skip
            else:
                send = functools.partial(_text, to=to, text=text)
        elif kind == "file":
            try:
                data = base64.b64decode(str(body.get("data", "")), validate=True)
            except (binascii.Error, ValueError):
                raise FleetError(400, "`data` must be base64.") from None
            send = functools.partial(
                _file, to=to, data=data, name=str(body.get("file_name") or "file"),
                mime=str(body.get("mime_type") or "application/octet-stream"), caption=text,
            )  # fmt: skip
        elif kind == "location":
            try:
                lat, lng = float(body["latitude"]), float(body["longitude"])
            except (KeyError, TypeError, ValueError):
                raise FleetError(
                    400, "A location needs numeric `latitude` and `longitude`."
                ) from None
            if not (-90 <= lat <= 90 and -180 <= lng <= 180):
                raise FleetError(400, "That latitude/longitude is not on Earth.")
            send = functools.partial(
                _location, to=to, lat=lat, lng=lng, name=str(body.get("name") or ""),
                address=str(body.get("address") or ""),
            )  # fmt: skip
        elif kind in RICH_KINDS:
            message, display = _rich(kind, body)
            send = functools.partial(_rich_send, to=to, message=message, text=display)
        else:
            raise FleetError(
                400, f"Unknown message type {kind!r}: text, file, location or "
                + ", ".join(RICH_KINDS) + ".",
            )  # fmt: skip
        return await self.locked(handset, send)

    async def read(self, number: str) -> list[str]:
        """The user opens the chats: a read receipt for every message received and not read
        yet (an offline phone first fetches its queue). Returns the guids read."""
        self._built_in(number)
        handset = await self.enlist(number)
        if not handset.online:
            await self._fetch(handset)
        guids = await self.db(self._unread, handset)
        for guid in guids:
            await self.relay.read_receipt(handset.credential, guid)
        if guids:
            await self.db(actions.do_forget_reads, handset.pk, guids)
        return guids

    def _unread(self, handset: Handset) -> list[str]:
        row = selectors.get_fleet_handset(handset.e164)
        if row is None:
            return []
        incoming = [m for m in self._client(handset).state.list_messages() if m.direction == "in"]
        already = row.read_count
        actions.do_mark_chat_read(row, len(incoming))
        return [m.guid for m in incoming[already:] if m.kind not in UNREADABLE_KINDS]

    async def history(self, number: str, peer: str | None = None) -> list[dict[str, Any]]:
        """Everything the phone shows, both directions, oldest first (decrypted on it)."""
        handset = await self.enlist(number)

        def items(client: SignalClient) -> list[dict[str, Any]]:
            return [_history_out(m) for m in client.state.list_messages(peer)]

        return await self.locked(handset, items)

    async def inbox(self, number: str, *, read: bool = False) -> list[dict[str, Any]]:
        """What arrived since the last look. An offline phone first fetches its queue (the
        user opened the app); an online one has received everything already."""
        if read or number == faults.OFFLINE_FOR_A_WHILE:  # a look would fetch its queue
            self._built_in(number)
        handset = await self.enlist(number)
        fetched: list[Received] = []
        if not handset.online:
            fetched = await self._fetch(handset)
        items = await self.db(self._unseen, handset)
        receipts = [_received_out(r) for r in fetched if r.kind == "receipt"]
        if read:
            for item in items:
                if item["kind"] in SHOWN_KINDS:
                    await self.relay.read_receipt(handset.credential, item["guid"])
        return receipts + items

    def _unseen(self, handset: Handset) -> list[dict[str, Any]]:
        row = selectors.get_fleet_handset(handset.e164)
        if row is None:
            return []
        incoming = [m for m in self._client(handset).state.list_messages() if m.direction == "in"]
        shown = row.inbox_shown
        actions.do_mark_inbox_shown(row, len(incoming))
        return [
            {
                "kind": m.kind,
                "guid": m.guid,
                "sender": m.peer,
                "body": m.body,
                "attachment": m.attachment,
            }
            for m in incoming[shown:]
        ]

    def list_handsets(self) -> list[dict[str, Any]]:
        return [self.describe(h) for h in sorted(self.handsets.values(), key=lambda h: h.e164)]


def _string(body: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FleetError(400, f"`{key}` must be a string.")
    if required and not value.strip():
        raise FleetError(400, f"Give `{key}`.")
    if len(value) > limit:
        raise FleetError(400, f"`{key}` is longer than {limit} characters.")
    return value


def _rich(kind: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Structured content a customer sends, as the business side parses it, and its text.
    `interactive_reply`: the tap of a reply button, a list row or a suggested reply;
    `action_tap`: the tap of an RCS suggested action (its postback)."""
    if kind == "interactive_reply":
        reply_id = _string(body, "id", limit=2048)
        title = _string(body, "title", limit=MAX_TITLE)
        return {"type": kind, "id": reply_id, "title": title}, title
    if kind == "action_tap":
        postback = _string(body, "postback", limit=2048)
        return {"type": kind, "postback": postback}, _string(
            body, "text", limit=MAX_TITLE, required=False
        ) or postback
    if kind == "reaction":
        message_id = _string(body, "message_id", limit=128)
        emoji = _string(body, "emoji", limit=16, required=False)
        return {"type": kind, "message_id": message_id, "emoji": emoji}, emoji
    # contacts
    raw = body.get("contacts")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        raise FleetError(400, "`contacts` must be a list of 1 to 20 contacts.")
    contacts: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise FleetError(400, "Each contact must be an object with `name` and `phones`.")
        phones = item.get("phones", [])
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            raise FleetError(400, "A contact's `phones` must be a list of strings.")
        contacts.append({"name": _string(item, "name", limit=MAX_TITLE), "phones": phones})
    return {"type": kind, "contacts": contacts}, ", ".join(c["name"] for c in contacts)


def _rich_send(client: SignalClient, *, to: str, message: dict[str, Any], text: str) -> list[str]:
    item = Outgoing.rich(to, message, text)
    # The phone's own history names it briefly (its kind column holds 16 characters).
    item.kind = _HISTORY_KIND.get(item.kind, item.kind)
    return client.send_one(item)


_HISTORY_KIND = {"interactive_reply": "reply_tap"}


def _history_out(item: HistoryItem) -> dict[str, Any]:
    attachment = item.attachment or {}
    public = {k: v for k, v in attachment.items() if k != "pointer"}  # keys stay on the phone
    return {
        "direction": item.direction,
        "peer": item.peer,
        "guid": item.guid,
        "kind": item.kind,
        "body": item.body,
        "status": item.status,
        "client_timestamp": item.client_timestamp,
        "attachment": public or None,
        "context": item.context,
    }


def _text(client: SignalClient, *, to: str, text: str) -> list[str]:
    return client.send_text(to, text)


def _reply(client: SignalClient, *, to: str, text: str, reply_to: Any, payload: Any,
           referral: dict[str, Any] | None = None) -> list[str]:  # fmt: skip
    return client.send_reply(
        to, text, reply_to=str(reply_to) if reply_to else None,
        payload=str(payload) if payload else None, referral=referral,
    )  # fmt: skip


def _file(
    client: SignalClient, *, to: str, data: bytes, name: str, mime: str, caption: str
) -> list[str]:
    client.attachments = StorageAttachmentStore()
    # A photo goes as an image, a voice note as audio, …; anything else as a document.
    media_type = _MEDIA_BY_MIME.get(mime.split("/", 1)[0], MediaType.DOCUMENT)
    return client.send_media(to, data, file_name=name, mime_type=mime, caption=caption,
                             media_type=media_type)  # fmt: skip


_MEDIA_BY_MIME = {"image": MediaType.IMAGE, "video": MediaType.VIDEO, "audio": MediaType.AUDIO}


def _location(
    client: SignalClient, *, to: str, lat: float, lng: float, name: str, address: str
) -> list[str]:
    return client.send_location(to, lat, lng, name=name, address=address)


def _note_typing(handset: Handset, received: list[Received]) -> None:
    """Typing indicators among what arrived: the phone shows "typing…" in those chats."""
    for item in received:
        if item.kind == "receipt" and item.receipt_kind == "typing" and item.sender:
            at = dt.datetime.fromtimestamp(item.server_timestamp / 1000, tz=dt.UTC)
            actions.do_note_typing(handset.pk, str(item.sender), at)


def _received_out(item: Received) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "guid": item.guid,
        "sender": item.sender,
        "body": item.body,
        "receipt_kind": item.receipt_kind,
        "receipt_guid": item.receipt_guid,
    }


# -- the control channel: a small HTTP API ----------------------------------------------------


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "code": status}}, status=status)


def control_app(fleet: Fleet, token: str | None = None) -> web.Application:
    secret = token or control_token()

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return _error(401, "The fleet's control token is missing or wrong.")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason)
        except FleetError as exc:
            return _error(exc.status, exc.message)
        except RelayError as exc:
            return _error(502 if exc.status == 0 else 400, str(exc))
        except Conflict as exc:
            return _error(409, exc.message)
        except ParleyError as exc:
            return _error(exc.http_status, exc.message)
        except (ClientError, ProtocolError) as exc:
            return _error(400, str(exc))

    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json()
        except ValueError:
            raise FleetError(400, "Send a JSON object.") from None
        if not isinstance(data, dict):
            raise FleetError(400, "Send a JSON object.")
        return data

    def delay_of(data: dict[str, Any]) -> float | None:
        value = data.get("read_delay_seconds")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FleetError(400, "`read_delay_seconds` must be a number of seconds or null.")
        return float(value)

    def number_of(request: web.Request) -> str:
        from parley.accounts.actions.numbers import parse_e164

        return parse_e164(request.match_info["number"])[0]

    async def health(request: web.Request) -> web.Response:
        return web.json_response(fleet.health())

    async def list_handsets(request: web.Request) -> web.Response:
        return web.json_response({"handsets": fleet.list_handsets()})

    async def create(request: web.Request) -> web.Response:
        from parley.accounts.actions.numbers import parse_e164

        data = await body(request)
        numbers = data.get("numbers", [data.get("number")])
        if (
            not isinstance(numbers, list)
            or not numbers
            or not all(isinstance(n, str) and n for n in numbers)
        ):
            raise FleetError(400, "Give `number` (or `numbers`, a list).")
        options: dict[str, Any] = {
            "online": bool(data.get("online", True)),
            "read_delay_seconds": delay_of(data),
            "pin": str(data["pin"]) if data.get("pin") else None,
            "reinstall": bool(data.get("reinstall", False)),
        }
        business_id, language = data.get("business_id"), data.get("language")
        if business_id is not None:
            if isinstance(business_id, bool) or not isinstance(business_id, int):
                raise FleetError(400, "`business_id` must be a whole number.")
            options["business_id"] = business_id
        if language is not None:
            if not isinstance(language, str) or not 2 <= len(language) <= 15:
                raise FleetError(400, "`language` must be a language code such as en_US.")
            options["language"] = language
        parsed = [parse_e164(n)[0] for n in numbers]
        if len(numbers) == 1 and "numbers" not in data:
            return web.json_response(await fleet.create(parsed[0], **options), status=201)
        results = await asyncio.gather(
            *(fleet.create(n, **options) for n in parsed), return_exceptions=True
        )
        created = [r for r in results if isinstance(r, dict)]
        errors = {
            n: str(r) for n, r in zip(parsed, results, strict=True) if isinstance(r, BaseException)
        }
        return web.json_response({"handsets": created, "errors": errors}, status=201)

    async def one(request: web.Request) -> web.Response:
        return web.json_response(fleet.describe(fleet.get(number_of(request))))

    async def update(request: web.Request) -> web.Response:
        data = await body(request)
        online = data.get("online")
        if online is not None and not isinstance(online, bool):
            raise FleetError(400, "`online` must be true or false.")
        kwargs: dict[str, Any] = {"online": online}
        blocks = data.get("blocks_businesses")
        if blocks is not None and not isinstance(blocks, bool):
            raise FleetError(400, "`blocks_businesses` must be true or false.")
        kwargs["blocks"] = blocks
        if "read_delay_seconds" in data:
            kwargs["read_delay"] = delay_of(data)
        result = await fleet.update(number_of(request), **kwargs)
        if online and data.get("wait", True):
            result["connected"] = await fleet.wait_connected(fleet.get(result["number"]))
        return web.json_response(result)

    async def send(request: web.Request) -> web.Response:
        guids = await fleet.send(number_of(request), await body(request))
        return web.json_response({"guids": guids}, status=201)

    async def inbox(request: web.Request) -> web.Response:
        data = await body(request)
        items = await fleet.inbox(number_of(request), read=bool(data.get("read", False)))
        return web.json_response({"items": items})

    async def read(request: web.Request) -> web.Response:
        return web.json_response({"guids": await fleet.read(number_of(request))})

    async def history(request: web.Request) -> web.Response:
        peer = request.query.get("peer") or None
        return web.json_response({"items": await fleet.history(number_of(request), peer)})

    app = web.Application(middlewares=[guard], client_max_size=MAX_CONTROL_BODY)
    app.add_routes(
        [
            web.get("/v1/health", health),
            web.get("/v1/handsets", list_handsets),
            web.post("/v1/handsets", create),
            web.get("/v1/handsets/{number}", one),
            web.patch("/v1/handsets/{number}", update),
            web.post("/v1/handsets/{number}/messages", send),
            web.post("/v1/handsets/{number}/inbox", inbox),
            web.post("/v1/handsets/{number}/read", read),
            web.get("/v1/handsets/{number}/history", history),
        ]
    )
    return app


async def serve(
    fleet: Fleet, host: str, port: int, stop: asyncio.Event, ready: Callable[[], None] | None = None
) -> None:
    """Run the fleet and its control API until `stop` is set."""
    await fleet.start()
    runner = web.AppRunner(control_app(fleet), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if ready is not None:
        ready()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await fleet.stop()
