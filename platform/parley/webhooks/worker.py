"""The delivery worker: one asyncio process that runs the `webhooks` stream consumer (woken by
every commit that appended events) and claims due deliveries from the database,
POSTs them with aiohttp (signed, no redirects, a timeout per app, at most `max_concurrency`
at once per app) and records the results in batches.

Database work runs off the event loop, on three threads: the consumer, claims, results.
The worker wakes on a Redis publish (new deliveries, a replay), on a move of the simulation
clock, and every `WEBHOOK_POLL_SECONDS` (retries that came due). At least once: a result is
recorded after the POST, so a worker killed in between leaves a lease that lapses, and
another worker sends the same delivery again with the same `webhook-id`.

Deliveries are not ordered (neither are Meta's): a status may arrive before the message it
is about, and a retried change after later ones. Receivers order by the payload's
timestamps and drop repeats by `webhook-id`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp
from django.conf import settings
from django.db import close_old_connections, connections

from parley.core import clock
from parley.core.stream import wake as stream_wake
from parley.webhooks import handoff, signing, wake
from parley.webhooks.actions.attempts import (
    Claim,
    Result,
    do_claim_due_deliveries,
    do_record_attempts,
    handed_over_claims,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
FLUSH_SECONDS = 0.05
FLUSH_SIZE = 200
CLAIM_SIZE = 200
EXCERPT_BYTES = 1000


class DeliveryWorker:
    def __init__(self, *, max_in_flight: int | None = None, poll: float | None = None) -> None:
        p = settings.PARLEY
        self.max_in_flight = max_in_flight or int(p["WEBHOOK_MAX_IN_FLIGHT"])
        self.poll = float(p["WEBHOOK_POLL_SECONDS"]) if poll is None else poll
        pool = concurrent.futures.ThreadPoolExecutor
        self._db = pool(1, thread_name_prefix="webhooks-db")
        self._stream_db = pool(1, thread_name_prefix="webhooks-stream")
        self._results_db = pool(1, thread_name_prefix="webhooks-results")
        self._wake = asyncio.Event()
        self._stream_wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._results: list[Result] = []
        self._flushed = asyncio.Event()
        self._per_app: dict[int, asyncio.Semaphore] = {}
        self.sent = 0
        self._session: aiohttp.ClientSession | None = None
        self.passes = 0  # claim passes completed
        self._flushing = False
        self._consuming = False

    async def _run_db(self, fn: Callable[..., T], *args: Any, on: Any = None) -> T:
        def call() -> T:
            close_old_connections()
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(on or self._db, call)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_in_flight, limit_per_host=0)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            self._session = session
            listener = asyncio.create_task(self._listen())
            flusher = asyncio.create_task(self._flush_forever())
            consumer = asyncio.create_task(self._consume_forever())
            try:
                await self._loop(session)
            finally:
                listener.cancel()
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
                if self._in_flight:
                    await asyncio.wait(self._in_flight, timeout=15)
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                await self._flush()
                for executor in (self._db, self._stream_db, self._results_db):
                    await self._run_db(connections.close_all, on=executor)
                    executor.shutdown(wait=True)

    async def _loop(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            free = self.max_in_flight - len(self._in_flight)
            claims: list[Claim] = []
            if free > 0:
                try:
                    claims = await self._run_db(do_claim_due_deliveries, min(free, CLAIM_SIZE))
                except Exception:
                    log.exception("webhooks: claiming deliveries failed")
            self.passes += 1
            self._start(claims)
            if claims and len(claims) == min(free, CLAIM_SIZE):
                await asyncio.sleep(0)  # more may be due: claim again once these are going
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)

    def _start(self, claims: list[Claim]) -> None:
        assert self._session is not None
        for claim in claims:
            task = asyncio.create_task(self._send(self._session, claim))
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    @property
    def idle(self) -> bool:
        """Nothing in flight and every result recorded."""
        return (
            not self._in_flight and not self._results and not self._flushing and not self._consuming
        )

    def _done(self, task: asyncio.Task[None]) -> None:
        full = len(self._in_flight) >= self.max_in_flight
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhooks: a send failed unexpectedly", exc_info=task.exception())
        if full:
            self._wake.set()  # capacity freed: claim what is waiting

    def _semaphore(self, claim: Claim) -> asyncio.Semaphore:
        sem = self._per_app.get(claim.app_pk)
        if sem is None:
            sem = self._per_app[claim.app_pk] = asyncio.Semaphore(max(1, claim.max_concurrency))
        return sem

    async def _send(self, session: aiohttp.ClientSession, claim: Claim) -> None:
        async with self._semaphore(claim):
            real_start = time.time()
            started_at = claim.claimed_at + dt.timedelta(
                seconds=max(0.0, real_start - claim.claimed_real)
            )
            headers = signing.headers_for(claim.body, claim.webhook_id, int(real_start),
                                          list(claim.secrets))  # fmt: skip
            status: int | None = None
            excerpt = error = ""
            retry_after: str | None = None
            began = time.perf_counter()
            try:
                async with session.post(
                    claim.url, data=claim.body, headers=headers, allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=claim.timeout),
                ) as response:  # fmt: skip
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    raw = await response.content.read(EXCERPT_BYTES)
                    excerpt = raw.decode("utf-8", "replace")
            except TimeoutError:
                error = f"No answer within {claim.timeout:g} s"
            except aiohttp.ClientError as exc:
                error = f"{type(exc).__name__}: {exc}"
            except ValueError as exc:  # an URL aiohttp cannot use
                error = f"Invalid URL: {exc}"
            latency = (time.perf_counter() - began) * 1000
        self.sent += 1
        self._results.append(
            Result(
                claim=claim, started_at=started_at, headers=headers,
                latency_ms=latency if status is not None else None, status=status,
                excerpt=excerpt, error=error, retry_after=retry_after,
            )
        )  # fmt: skip
        if len(self._results) >= FLUSH_SIZE:
            self._flushed.set()

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), timeout=FLUSH_SECONDS)
            self._flushed.clear()
            await self._flush()

    async def _flush(self) -> None:
        if not self._results:
            return
        batch, self._results = self._results, []
        self._flushing = True
        try:
            await self._run_db(do_record_attempts, batch, on=self._results_db)
        except Exception:
            # The leases lapse and the deliveries go out again (same webhook-id).
            log.exception("webhooks: recording %d result(s) failed", len(batch))
            return
        finally:
            self._flushing = False
        if any(r.status is None or not 200 <= r.status < 300 for r in batch):
            self._wake.set()  # a retry may be due at once (a moved clock, a Retry-After: 0)

    async def _consume_forever(self) -> None:
        """Turn new stream entries into deliveries: on every commit, and every poll."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stream_wake.wait(), timeout=self.poll)
            self._stream_wake.clear()
            self._consuming = True
            try:
                done, claims = await self._run_db(_consume, on=self._stream_db)
            except Exception:
                log.exception("webhooks: the stream consumer failed")
                continue
            finally:
                self._consuming = False
            self._start(claims)
            if not done:
                self._stream_wake.set()

    async def _listen(self) -> None:
        """Wake on a publish to the worker's channel, the clock's or the stream's."""
        import redis.asyncio as aioredis

        commit_channel = stream_wake.commit_channel()
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(wake.channel(), clock.channel(), commit_channel)
                self._wake.set()
                self._stream_wake.set()
                async for message in pubsub.listen():
                    if message.get("channel") == commit_channel.encode():
                        self._stream_wake.set()
                    else:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: polling still finds due deliveries
                log.debug("webhooks: wake listener reconnecting: %s", exc)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()


def _consume() -> tuple[bool, list[Claim]]:
    """One batch of the `webhooks` consumer (so what it leased to this worker goes out as
    soon as it is committed); whether it caught up, and the claims."""
    from parley.core.stream.consumers import get
    from parley.core.stream.runner import run_batch

    consumer = get("webhooks")
    lease = dt.timedelta(seconds=float(settings.PARLEY["WEBHOOK_LEASE_SECONDS"]))
    with handoff.collecting(clock.real_now() + lease) as taken:
        try:
            # A full batch means more may be waiting.
            done = run_batch(consumer) < consumer.batch_size
        finally:
            claims = handed_over_claims(taken)
    return done, claims


def serve() -> None:
    """Run a worker until SIGINT or SIGTERM."""

    async def main() -> None:
        worker = DeliveryWorker()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        log.info("webhook delivery worker started")
        await worker.run()

    asyncio.run(main())
