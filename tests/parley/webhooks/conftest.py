"""Fixtures of the webhook tests: a business app subscribed to a real local receiver, and a
delivery worker running in this process (its own event loop and database thread), which
reads this process's clock, so tests move time by moving the frozen clock."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.stream.runner import run_consumers
from parley.webhooks.worker import DeliveryWorker

VERIFY_TOKEN = "let-me-in"
SECRET_FIELDS = ("messages", "message_template_status_update", "phone_number_quality_update")


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until `check()` is truthy (the worker runs in its own thread); return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


class RunningWorker:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.worker: DeliveryWorker | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def main() -> None:
                self.worker = DeliveryWorker(poll=0.2)
                ready.set()
                await self.worker.run()

            self.loop.run_until_complete(main())

        self.thread = threading.Thread(target=run, name="webhook-worker", daemon=True)
        self.thread.start()
        ready.wait(10)

    def wake(self) -> None:
        assert self.worker is not None
        self.loop.call_soon_threadsafe(self.worker._wake.set)

    def settle(self) -> None:
        """Wake the worker and wait until it has looked for due deliveries since, sent what
        it found and recorded the results: a negative can then be asserted."""
        assert self.worker is not None
        worker = self.worker
        for _ in range(2):  # a pass may have been under way when woken
            passes = worker.passes

            def settled(after: int = passes) -> bool:
                return worker.passes > after and worker.idle

            self.wake()
            eventually(settled)

    def stop(self) -> None:
        assert self.worker is not None
        self.loop.call_soon_threadsafe(self.worker.stop)
        self.thread.join(20)


@pytest.fixture
def delivery_worker(transactional_db: None) -> Iterator[RunningWorker]:
    running = RunningWorker()
    try:
        yield running
    finally:
        running.stop()
        connections.close_all()


def consume() -> None:
    """Run the webhooks stream consumer until it has caught up (a running delivery worker
    may be running it at the same time: wait for its position to reach the end)."""
    from parley.core.models import StreamConsumer
    from parley.core.stream.log import last_id

    assert run_consumers(max_seconds=30, names=["webhooks"])
    end = last_id()

    def caught_up() -> bool:
        position = StreamConsumer.objects.filter(name="webhooks").values_list("position")
        if bool(position) and position[0][0] >= end:
            return True
        # A pass stops below a transaction still publishing (the stream's safe bound): in
        # production the next wake or beat runs it again; here, run it again.
        run_consumers(max_seconds=30, names=["webhooks"])
        return False

    eventually(caught_up)


@dataclasses.dataclass
class Subscribed:
    app: Any
    secret: str
    number: PhoneNumber


@pytest.fixture
def subscribed(factory: Any, httpserver: Any) -> Callable[..., Subscribed]:
    """A business number and an app subscribed to the receiver (the real handshake)."""
    from parley.webhooks.actions.apps import do_create_app, do_subscribe_app

    def make(path: str = "/hook", fields: tuple[str, ...] = SECRET_FIELDS,
             business: Any = None, server: Any = None) -> Subscribed:  # fmt: skip
        server = server or httpserver
        business = business or factory.business("Hooked", country="US")
        number = PhoneNumber.objects.create(
            business=business, e164=f"+1415666{PhoneNumber.objects.count() % 10000:04d}",
            country="US", display_name="Hooked",
            code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
            status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
        )  # fmt: skip
        url = server.url_for(path)
        app, secret = do_create_app(business, name="Receiver", callback_url=url,
                                    verify_token=VERIFY_TOKEN, fields=list(fields))  # fmt: skip
        server.expect_oneshot_request(path, method="GET").respond_with_handler(echo())
        do_subscribe_app(app)
        app.refresh_from_db()
        assert app.is_active
        return Subscribed(app, secret, number)

    return make


def echo(token: str = VERIFY_TOKEN) -> Callable[[Any], Any]:
    """A receiver's answer to the verification handshake: the challenge, for our token."""
    from werkzeug import Response

    def handler(request: Any) -> Any:
        if request.args.get("hub.verify_token") != token:
            return Response("forbidden", status=403)
        return Response(request.args.get("hub.challenge", ""))

    return handler
