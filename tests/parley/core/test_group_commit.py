"""Group commit: what arrives while a batch is being written goes into the next one; a batch
that fails fails its own items only; each event loop has its own queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from parley.core.group_commit import GroupCommit


class Held:
    """Work that records its batches and holds the first one until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(10)
        if "bad" in items:
            raise RuntimeError("the batch failed")
        return [item.upper() for item in items]


async def _submit_while_held(commit: GroupCommit[str, str], work: Held, later: list[str]) -> list:
    first = asyncio.ensure_future(commit.submit("first"))
    await asyncio.get_running_loop().run_in_executor(None, work.started.wait, 10)
    rest = [asyncio.ensure_future(commit.submit(item)) for item in later]
    await asyncio.sleep(0)  # let them queue behind the held batch
    work.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_what_arrives_during_a_batch_goes_into_the_next_one_in_order() -> None:
    work = Held()
    commit = GroupCommit(work, name="test", max_batch=3)
    answers = asyncio.run(_submit_while_held(commit, work, ["a", "b", "c", "d"]))
    assert answers == ["FIRST", "A", "B", "C", "D"]
    assert work.batches == [["first"], ["a", "b", "c"], ["d"]]


def test_a_failed_batch_fails_its_own_items_only() -> None:
    work = Held()
    commit = GroupCommit(work, name="test", max_batch=2)
    answers = asyncio.run(_submit_while_held(commit, work, ["a", "bad", "c"]))
    assert answers[0] == "FIRST" and answers[3] == "C"
    assert all(isinstance(a, RuntimeError) for a in answers[1:3])
    assert work.batches == [["first"], ["a", "bad"], ["c"]]


def test_each_event_loop_has_its_own_queue() -> None:
    def work(items: list[int]) -> list[int]:
        return [i * 2 for i in items]

    commit = GroupCommit(work, name="test")

    async def some(n: int) -> list[int]:
        return list(await asyncio.gather(*(commit.submit(i) for i in range(n))))

    assert asyncio.run(some(3)) == [0, 2, 4]
    assert asyncio.run(some(2)) == [0, 2]  # a new loop: nothing left of the first


@pytest.mark.parametrize("width", [1, 2])
def test_at_most_parallel_batches_run_at_once(width: int) -> None:
    running, peak = 0, 0
    lock = threading.Lock()
    gate = threading.Barrier(width, timeout=10) if width > 1 else None

    def work(items: list[int]) -> list[int]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if gate is not None and items[0] < width:
            gate.wait()  # the first batches meet: they did run side by side
        with lock:
            running -= 1
        return items

    commit = GroupCommit(work, name="test", parallel=lambda: width, max_batch=1)

    async def many() -> list[int]:
        return list(await asyncio.gather(*(commit.submit(i) for i in range(8))))

    assert asyncio.run(many()) == list(range(8))
    assert peak == width


def test_an_item_submitted_as_the_last_batch_ends_is_not_left_waiting() -> None:
    """The caller whose answer ended a batch runs before the finished batch's task is
    cleaned up; what it submits at once must start a batch of its own."""

    def work(items: list[int]) -> list[int]:
        return [i + 1 for i in items]

    commit = GroupCommit(work, name="test")

    async def one_after_another() -> list[int]:
        # Awaited in this task (not wrapped in one of its own, which would start later).
        return [await commit.submit(i) for i in range(5)]

    assert asyncio.run(asyncio.wait_for(one_after_another(), timeout=30)) == [1, 2, 3, 4, 5]
