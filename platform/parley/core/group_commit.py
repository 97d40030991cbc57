"""Group commit for the web server's hot database work: what arrives while a batch is being
written (or read) goes into the next one, so many requests share one transaction or one
query (the API's send lane, the relay's acknowledgements and pushes).

The work runs on threads of its own, never on the event loop, each batch between Django's
connection checks (as a request is); `parallel` batches may be written at once, so one waits
on its commit while the next is prepared. A batch whose work raises fails each of its items
with that exception (their callers decide what to do)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from django.db import close_old_connections

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass
class _Loop(Generic[T, R]):
    """What waits and what runs, for one event loop (a server has one; each test's
    `asyncio.run` another)."""

    waiting: list[tuple[T, asyncio.Future[R]]] = dataclasses.field(default_factory=list)
    running: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        work: Callable[[list[T]], list[R]],
        *,
        name: str,
        parallel: Callable[[], int] = lambda: 1,
        max_batch: int = 256,
    ) -> None:
        self._work = work
        self._name = name
        self._parallel = parallel
        self._max_batch = max_batch
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop[T, R]] = (
            weakref.WeakKeyDictionary()
        )
        self._executor: ThreadPoolExecutor | None = None
        self._width = 1

    def _run(self, items: list[T]) -> list[R]:
        close_old_connections()
        try:
            return self._work(items)
        finally:
            close_old_connections()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._width = max(1, self._parallel())
            self._executor = ThreadPoolExecutor(
                max_workers=self._width, thread_name_prefix=self._name
            )
        return self._executor

    async def submit(self, item: T) -> R:
        """The work's answer for `item`, once the batch it went into is written."""
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _Loop()
        future: asyncio.Future[R] = loop.create_future()
        state.waiting.append((item, future))
        self._pool()
        if len(state.running) < self._width:
            state.running.add(loop.create_task(self._drain(state)))
        return await future

    async def _drain(self, state: _Loop[T, R]) -> None:
        try:
            await self._batches(state)
        finally:
            # In the step that found nothing waiting: a done-callback would run later, and
            # an item submitted before it (by the caller this batch just answered, say)
            # would count this task as running and wait for a batch that never comes.
            task = asyncio.current_task()
            assert task is not None
            state.running.discard(task)

    async def _batches(self, state: _Loop[T, R]) -> None:
        loop = asyncio.get_running_loop()
        while state.waiting:
            batch = state.waiting[: self._max_batch]
            state.waiting = state.waiting[self._max_batch :]
            items = [item for item, _ in batch]
            try:
                answers = await loop.run_in_executor(self._pool(), self._run, items)
            except Exception as exc:
                log.exception("%s: a batch of %d failed", self._name, len(items))
                for _, future in batch:
                    if not future.done():  # its client may have gone
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
