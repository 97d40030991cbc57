"""Short pauses of the cyclic garbage collector in Parley's long-running processes: the web
server, the workers' pool processes and the handset fleet.

Such a process holds a large heap that lives as long as it does (a thousand websockets and
their consumers, a thousand handsets' sessions, every module of Django). CPython's full
collection walks every tracked object, and every message passing through the process waits
for it; most of that heap never becomes garbage. So the heap is tended: every
`freeze_seconds` what is not frozen is collected and the survivors are frozen
(`gc.freeze()`), out of the collector's sight, so later collections walk only what came
since; every `full_seconds` everything is unfrozen and collected once, so cyclic garbage
among frozen objects lives at most that long."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)


class Tender:
    """The two kinds of turn, on a clock of seconds (`time.monotonic`, or a test's)."""

    def __init__(self, *, full_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.full_seconds = full_seconds
        self.now = now
        self.last_full = now()

    def tend(self) -> str:
        """Collect and freeze what survives; collect everything first, once every
        `full_seconds`. Returns which turn it was ("full" or "young")."""
        at = self.now()
        kind = "young"
        if at - self.last_full >= self.full_seconds:
            gc.unfreeze()
            self.last_full, kind = at, "full"
        gc.collect()
        gc.freeze()
        return kind


_started: int | None = None  # the process the tending thread runs in (a fork has none)


def start(*, freeze_seconds: float, full_seconds: float) -> bool:
    """Tend this process's heap from a daemon thread (once per process; 0 seconds: never).
    Returns whether a thread was started."""
    global _started
    if freeze_seconds <= 0 or _started == os.getpid():
        return False
    _started = os.getpid()
    tender = Tender(full_seconds=full_seconds)

    def run() -> None:
        while True:
            time.sleep(freeze_seconds)
            try:
                tender.tend()
            except Exception:  # never let the thread die: the collector still runs as usual
                log.exception("tending the heap failed")

    threading.Thread(target=run, name="parley-heap", daemon=True).start()
    return True


def start_from_settings() -> bool:
    from django.conf import settings

    return start(
        freeze_seconds=float(settings.PARLEY["HEAP_FREEZE_SECONDS"]),
        full_seconds=float(settings.PARLEY["HEAP_FULL_SECONDS"]),
    )


async def lifespan(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """The ASGI lifespan protocol: the web server starts tending its heap when it starts
    serving (not when a test imports the application)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            start_from_settings()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
