"""The routing assignment strategy: which agent a conversation is offered to.

Pure Python: no Django, no I/O. State in, state out: the strategy holds one `AgentState` per
agent (serialisable with `to_dict`/`from_dict`), the caller mirrors every change into it
(`upsert`, `remove`, `assign`, `release`, `set_load`) and asks `choose` for the agent to offer a
conversation with a given `Requirement` to.

An agent is *eligible* for a requirement when it is available, below capacity, has every
required skill at or above the minimum proficiency, and speaks the required language (if
any). Strategies:

- ``least_loaded`` (`LeastLoaded`): the eligible agent with the lowest load ratio
  (load / capacity); ties go to the one longest since its last assignment, then the lowest
  agent id.
- ``round_robin`` (`RoundRobin`): the eligible agent longest since its last assignment, then
  the lowest agent id.
- ``linear_scan`` (`LinearScan`): least-loaded's exact choice found by scanning every agent
  on every decision, O(n): the oracle for the tests and the baseline for the benchmark.

`LeastLoaded` and `RoundRobin` answer in O(log n) amortised. They keep one *pool* per
distinct requirement asked for (built on its first `choose`, O(n)): the agents that qualify
for it regardless of load, and a binary heap of entries. An entry is one int that sorts as
the strategy's rank: for least-loaded ``(load ratio, last_assigned, agent_id)`` packed into
bits (the agent id in the low 64), which `heapq` compares several times faster than a
tuple. A change of an agent's rank pushes its new entry into each pool it belongs to (or
replaces it in place when it is on top, as a just-chosen agent is); older entries are stale
(they no longer equal the agent's current entry) and are dropped when they reach the top,
and a heap whose stale entries outnumber twice its live ones is rebuilt. An agent at
capacity has no valid entry (it is skipped without a scan) and is pushed back when a
release frees a slot. An `upsert` re-checks the agent against every pool: O(number of
pools), and so does building a pool: keep the requirements few and coarse (a few dozen),
each distinct one costs memory and a push on every change of its agents.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, Protocol

MIN_CAPACITY = 1
MAX_CAPACITY = 50
DEFAULT_CAPACITY = 15
MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 5
MAX_AGENT_ID = 2**64 - 1  # the heap strategies keep the id in an entry's low 64 bits


class CapacityExceeded(ValueError):
    """`assign` on an agent whose load has already reached its capacity."""


def _check_proficiency(skill: str, level: int) -> None:
    if not isinstance(skill, str) or not skill:
        raise ValueError(f"a skill is a non-empty string, not {skill!r}")
    if isinstance(level, bool) or not isinstance(level, int):
        raise ValueError(f"proficiency of {skill!r} must be an integer, not {level!r}")
    if not MIN_PROFICIENCY <= level <= MAX_PROFICIENCY:
        raise ValueError(
            f"proficiency of {skill!r} must be {MIN_PROFICIENCY}-{MAX_PROFICIENCY}, not {level}"
        )


def _check_load(load: int, last_assigned: float) -> None:
    if load < 0:
        raise ValueError(f"load cannot be negative ({load})")
    if last_assigned != last_assigned:
        raise ValueError("last_assigned is NaN")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """What a conversation needs: every (skill, minimum proficiency) pair, and a language
    ("" = any)."""

    skills: frozenset[tuple[str, int]] = frozenset()
    language: str = ""

    def __post_init__(self) -> None:
        # Accept any iterable of pairs (a set, a list); keep it hashable.
        skills = frozenset((skill, level) for skill, level in self.skills)
        for skill, level in skills:
            _check_proficiency(skill, level)
        if not isinstance(self.language, str):
            raise ValueError(f"a language is a string code, not {self.language!r}")
        object.__setattr__(self, "skills", skills)

    @classmethod
    def of(cls, skills: Mapping[str, int] | None = None, language: str = "") -> Requirement:
        """``Requirement.of({"billing": 3}, "hi")``."""
        return cls(frozenset((skills or {}).items()), language)

    def to_dict(self) -> dict[str, Any]:
        return {"skills": [list(pair) for pair in sorted(self.skills)], "language": self.language}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        skills = data.get("skills", ())
        pairs = skills.items() if isinstance(skills, Mapping) else skills
        return cls(frozenset((str(s), int(p)) for s, p in pairs), str(data.get("language", "")))


@dataclasses.dataclass
class AgentState:
    """One agent as the strategy sees it. `last_assigned` is simulation time in seconds of
    the agent's last assignment (0.0 = never)."""

    agent_id: int
    capacity: int = DEFAULT_CAPACITY
    load: int = 0
    available: bool = True
    skills: dict[str, int] = field(default_factory=dict)  # skill -> proficiency
    languages: frozenset[str] = frozenset()
    last_assigned: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.agent_id, bool) or not isinstance(self.agent_id, int):
            raise ValueError(f"agent_id must be an integer, not {self.agent_id!r}")
        if not 0 <= self.agent_id <= MAX_AGENT_ID:
            raise ValueError(f"agent_id must be 0-{MAX_AGENT_ID}, not {self.agent_id}")
        if not MIN_CAPACITY <= self.capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be {MIN_CAPACITY}-{MAX_CAPACITY}, not {self.capacity}")
        if self.load < 0:
            raise ValueError(f"load cannot be negative ({self.load})")
        for skill, level in self.skills.items():
            _check_proficiency(skill, level)
        if math.isnan(self.last_assigned):
            raise ValueError("last_assigned is NaN")
        self.languages = frozenset(self.languages)

    @property
    def full(self) -> bool:
        return self.load >= self.capacity

    @property
    def has_room(self) -> bool:
        """Available and below capacity: it takes a conversation its skills fit."""
        return self.available and self.load < self.capacity

    @property
    def load_ratio(self) -> float:
        return self.load / self.capacity

    def qualifies(self, req: Requirement) -> bool:
        """Available, with the skills and the language: eligible but for the load."""
        if not self.available:
            return False
        if req.language and req.language not in self.languages:
            return False
        skills = self.skills
        # Minimum proficiencies are >= 1, so a missing skill (0) never passes.
        return all(skills.get(skill, 0) >= level for skill, level in req.skills)

    def eligible(self, req: Requirement) -> bool:
        return self.load < self.capacity and self.qualifies(req)

    def copy(self) -> AgentState:
        return AgentState(
            self.agent_id,
            self.capacity,
            self.load,
            self.available,
            dict(self.skills),
            self.languages,
            self.last_assigned,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "capacity": self.capacity,
            "load": self.load,
            "available": self.available,
            "skills": dict(sorted(self.skills.items())),
            "languages": sorted(self.languages),
            "last_assigned": self.last_assigned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentState:
        return cls(
            agent_id=int(data["agent_id"]),
            capacity=int(data.get("capacity", DEFAULT_CAPACITY)),
            load=int(data.get("load", 0)),
            available=bool(data.get("available", True)),
            skills={str(s): int(p) for s, p in dict(data.get("skills", {})).items()},
            languages=frozenset(str(lang) for lang in data.get("languages", ())),
            last_assigned=float(data.get("last_assigned", 0.0)),
        )


class Strategy(Protocol):
    """What every strategy implements."""

    def upsert(self, agent: AgentState) -> None:
        """Add an agent or replace its whole state (the strategy keeps a copy)."""

    def remove(self, agent_id: int) -> None:
        """Forget an agent (no-op if unknown)."""

    def get(self, agent_id: int) -> AgentState | None:
        """A copy of the agent's state, or None."""

    def choose(self, req: Requirement) -> int | None:
        """The agent to offer a conversation to, or None; changes no agent's state."""

    def assign(self, agent_id: int, at: float) -> None:
        """load += 1, last_assigned = at. KeyError if unknown, CapacityExceeded if full."""

    def release(self, agent_id: int) -> None:
        """load -= 1 (never below 0). KeyError if unknown."""

    def set_load(self, agent_id: int, load: int, last_assigned: float) -> bool:
        """The agent's load and last assignment as the caller read them (the rest of its
        state unchanged); False if the agent is unknown."""

    def agents(self) -> list[AgentState]:
        """Copies of every agent's state, sorted by agent_id."""

    def has_room(self) -> bool:
        """Whether any available agent is below capacity (when none is, `choose` finds
        nobody for any requirement)."""

    def __len__(self) -> int: ...


def decide(strategy: Strategy, req: Requirement, at: float) -> int | None:
    """Choose an agent for `req` and assign the conversation to it at time `at`."""
    agent_id = strategy.choose(req)
    if agent_id is not None:
        strategy.assign(agent_id, at)
    return agent_id


# A heap entry is one int: the strategy's rank of the agent in the high bits, the agent id in
# the low 64 bits. Comparing ints is several times cheaper for heapq than comparing tuples.
_ID_BITS = 64
_ID_MASK = (1 << _ID_BITS) - 1
# Load ratios as integers: floor(load * 2**20 / capacity). Equal fractions (1/3, 2/6) give
# the same value; distinct ones with capacities <= 1024 differ by >= 2**20 / 1024**2 = 1.
_RATIO_BITS = 20
_FULL = -1  # a slot's entry while the agent is at capacity: no valid entry anywhere
# Times as integers in [0, 2**64) with the order of the floats (never NaN): IEEE 754 doubles
# of one sign sort as their bits read as an int64; negative ones are mirrored, and -0.0 ranks
# as 0.0. Inlined in each `_entry` below (a function call costs as much as the rest).
_pack_double = struct.Struct("=d").pack
_unpack_int64 = struct.Struct("=q").unpack
_HALF = 1 << 63
_MAGNITUDE = _HALF - 1


class _Slot:
    """An agent inside a heap strategy: its state, its current entry (`_FULL` at capacity)
    and the pools it belongs to."""

    __slots__ = ("entry", "pools", "state")

    def __init__(self, state: AgentState) -> None:
        self.state = state
        self.entry = _FULL
        self.pools: list[_Pool] = []


class _Pool:
    """The agents that qualify for one requirement regardless of load (`members`) and a heap
    of entries. An entry is valid when its agent is a member, below capacity, and that
    agent's current entry; every such member has at least one valid entry in the heap.
    `live` counts the members below capacity."""

    __slots__ = ("heap", "live", "members", "requirement")

    def __init__(self, requirement: Requirement) -> None:
        self.requirement = requirement
        self.members: set[int] = set()
        self.heap: list[int] = []
        self.live = 0


# A heap is rebuilt when its stale entries exceed twice the live ones (plus this slack, so a
# small pool is not rebuilt on every push).
_COMPACT_SLACK = 16


class _HeapStrategy:
    """Pools of lazily invalidated heaps; subclasses define the entry (`_entry`)."""

    name = ""

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}
        self._pools: dict[Requirement, _Pool] = {}

    @staticmethod
    def _entry(state: AgentState) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._slots)

    def get(self, agent_id: int) -> AgentState | None:
        slot = self._slots.get(agent_id)
        return None if slot is None else slot.state.copy()

    def agents(self) -> list[AgentState]:
        slots = self._slots
        return [slots[agent_id].state.copy() for agent_id in sorted(slots)]

    def has_room(self) -> bool:
        return any(s.state.has_room for s in self._slots.values())

    def choose(self, req: Requirement) -> int | None:
        pool = self._pools.get(req)
        if pool is None:
            pool = self._build(req)
        heap = pool.heap
        members = pool.members
        slots = self._slots
        while heap:
            entry = heap[0]
            agent_id = entry & _ID_MASK
            slot = slots.get(agent_id)
            if slot is not None and slot.entry == entry and agent_id in members:
                return agent_id
            heapq.heappop(heap)  # stale: the agent changed, left the pool or is full
        return None

    def upsert(self, agent: AgentState) -> None:
        state = agent.copy()
        agent_id = state.agent_id
        slot = self._slots.get(agent_id)
        if slot is None:
            slot = self._slots[agent_id] = _Slot(state)
        else:
            was_live = slot.entry != _FULL
            for pool in slot.pools:
                pool.members.discard(agent_id)
                if was_live:
                    pool.live -= 1
            slot.pools = []
            slot.state = state
        entry = slot.entry = _FULL if state.full else self._entry(state)
        for pool in self._pools.values():
            if state.qualifies(pool.requirement):
                pool.members.add(agent_id)
                slot.pools.append(pool)
                if entry != _FULL:
                    pool.live += 1
                    self._push(pool, entry)

    def remove(self, agent_id: int) -> None:
        slot = self._slots.pop(agent_id, None)
        if slot is None:
            return
        was_live = slot.entry != _FULL
        for pool in slot.pools:
            pool.members.discard(agent_id)
            if was_live:
                pool.live -= 1
        slot.pools = []

    def assign(self, agent_id: int, at: float) -> None:
        slot = self._slots[agent_id]
        state = slot.state
        if state.load >= state.capacity:
            raise CapacityExceeded(f"agent {agent_id} is at capacity ({state.capacity})")
        if at != at:
            raise ValueError("assignment time is NaN")
        state.load += 1
        state.last_assigned = at
        self._changed(slot)

    def release(self, agent_id: int) -> None:
        slot = self._slots[agent_id]
        state = slot.state
        if state.load > 0:
            state.load -= 1
            self._changed(slot)

    def set_load(self, agent_id: int, load: int, last_assigned: float) -> bool:
        slot = self._slots.get(agent_id)
        if slot is None:
            return False
        state = slot.state
        if state.load != load or state.last_assigned != last_assigned:
            _check_load(load, last_assigned)
            state.load = load
            state.last_assigned = last_assigned
            self._changed(slot)  # membership depends on neither: only the rank moves
        return True

    def _changed(self, slot: _Slot) -> None:
        """After the agent's load or last assignment changed: re-rank it in its pools."""
        state = slot.state
        old = slot.entry
        if state.load >= state.capacity:
            if old != _FULL:
                slot.entry = _FULL  # every entry of the agent is stale now
                for pool in slot.pools:
                    pool.live -= 1
            return
        entry = self._entry(state)
        if entry == old:
            return  # same rank (round robin after a release): its entries are still valid
        slot.entry = entry
        for pool in slot.pools:
            heap = pool.heap
            if old == _FULL:
                pool.live += 1
            elif heap and heap[0] == old:
                heapq.heapreplace(heap, entry)  # the agent was on top (just chosen)
                continue
            self._push(pool, entry)

    def _push(self, pool: _Pool, entry: int) -> None:
        heap = pool.heap
        heapq.heappush(heap, entry)
        if len(heap) > 3 * pool.live + _COMPACT_SLACK:
            slots = self._slots
            live = [e for e in (slots[agent_id].entry for agent_id in pool.members) if e >= 0]
            heapq.heapify(live)
            pool.heap = live

    def _build(self, req: Requirement) -> _Pool:
        pool = self._pools[req] = _Pool(req)
        for agent_id, slot in self._slots.items():
            if slot.state.qualifies(req):
                pool.members.add(agent_id)
                slot.pools.append(pool)
                if slot.entry != _FULL:
                    pool.live += 1
                    pool.heap.append(slot.entry)
        heapq.heapify(pool.heap)
        return pool


class LeastLoaded(_HeapStrategy):
    """Lowest load ratio, then longest since last assignment, then lowest agent id."""

    name = "least_loaded"

    @staticmethod
    def _entry(state: AgentState) -> int:
        (bits,) = _unpack_int64(_pack_double(state.last_assigned))
        time = _HALF + bits if bits >= 0 else _HALF - (bits & _MAGNITUDE)
        ratio = (state.load << _RATIO_BITS) // state.capacity
        return (((ratio << 64) | time) << _ID_BITS) | state.agent_id


class RoundRobin(_HeapStrategy):
    """Longest since last assignment, then lowest agent id."""

    name = "round_robin"

    @staticmethod
    def _entry(state: AgentState) -> int:
        (bits,) = _unpack_int64(_pack_double(state.last_assigned))
        time = _HALF + bits if bits >= 0 else _HALF - (bits & _MAGNITUDE)
        return (time << _ID_BITS) | state.agent_id


class LinearScan:
    """Least-loaded's choice by scanning every agent on every decision: O(n)."""

    name = "linear_scan"

    def __init__(self) -> None:
        self._agents: dict[int, AgentState] = {}

    def __len__(self) -> int:
        return len(self._agents)

    def upsert(self, agent: AgentState) -> None:
        self._agents[agent.agent_id] = agent.copy()

    def remove(self, agent_id: int) -> None:
        self._agents.pop(agent_id, None)

    def get(self, agent_id: int) -> AgentState | None:
        state = self._agents.get(agent_id)
        return None if state is None else state.copy()

    def agents(self) -> list[AgentState]:
        return [self._agents[agent_id].copy() for agent_id in sorted(self._agents)]

    def has_room(self) -> bool:
        return any(a.has_room for a in self._agents.values())

    def choose(self, req: Requirement) -> int | None:
        best: tuple[float, float, int] | None = None
        for state in self._agents.values():
            if state.eligible(req):
                key = (state.load / state.capacity, state.last_assigned, state.agent_id)
                if best is None or key < best:
                    best = key
        return None if best is None else best[2]

    def assign(self, agent_id: int, at: float) -> None:
        state = self._agents[agent_id]
        if state.load >= state.capacity:
            raise CapacityExceeded(f"agent {agent_id} is at capacity ({state.capacity})")
        if at != at:
            raise ValueError("assignment time is NaN")
        state.load += 1
        state.last_assigned = at

    def release(self, agent_id: int) -> None:
        state = self._agents[agent_id]
        if state.load > 0:
            state.load -= 1

    def set_load(self, agent_id: int, load: int, last_assigned: float) -> bool:
        state = self._agents.get(agent_id)
        if state is None:
            return False
        _check_load(load, last_assigned)
        state.load = load
        state.last_assigned = last_assigned
        return True


_FACTORIES: dict[str, Callable[[], Strategy]] = {
    LeastLoaded.name: LeastLoaded,
    RoundRobin.name: RoundRobin,
    LinearScan.name: LinearScan,
}

STRATEGIES: tuple[str, ...] = tuple(_FACTORIES)


def make_strategy(name: str) -> Strategy:
    """A new, empty strategy: "least_loaded", "round_robin" or "linear_scan"."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"unknown routing strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
    return factory()
