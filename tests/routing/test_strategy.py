"""The routing assignment strategy (routing.strategy): a pure core, tested on its own — no
database, cache or server. The heap strategies are checked against the linear scan and an
independent brute-force model on generated sequences of operations (hypothesis)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.strategy import (
    MAX_CAPACITY,
    STRATEGIES,
    AgentState,
    CapacityExceeded,
    LeastLoaded,
    LinearScan,
    Requirement,
    RoundRobin,
    Strategy,
    decide,
    make_strategy,
)

HEAP_STRATEGIES = ("least_loaded", "round_robin")
LEAST_LOADED_ORDER = ("least_loaded", "linear_scan")  # both implement least-loaded's choice

BILLING = Requirement.of({"billing": 3})
BILLING_HI = Requirement.of({"billing": 3}, "hi")
ANY = Requirement()


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Overrides the suite-wide fixture that clears the (Redis) cache: nothing to clear."""


def agent(agent_id: int, **kw: object) -> AgentState:
    return AgentState(agent_id, **kw)  # type: ignore[arg-type]


def build(name: str, *agents: AgentState) -> Strategy:
    strategy = make_strategy(name)
    for a in agents:
        strategy.upsert(a)
    return strategy


def state(strategy: Strategy, agent_id: int) -> AgentState:
    found = strategy.get(agent_id)
    assert found is not None
    return found


# --- eligibility -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "req", "expected"),
    [
        (agent(1), ANY, True),
        (agent(1, skills={"billing": 3}), BILLING, True),
        (agent(1, skills={"billing": 5}), BILLING, True),
        (agent(1, skills={"billing": 2}), BILLING, False),  # below the threshold
        (agent(1, skills={"sales": 5}), BILLING, False),  # missing skill
        (agent(1), BILLING, False),
        (
            agent(1, skills={"billing": 3, "sales": 1}),
            Requirement.of({"billing": 3, "sales": 2}),
            False,
        ),
        (
            agent(1, skills={"billing": 3, "sales": 2}),
            Requirement.of({"billing": 3, "sales": 2}),
            True,
        ),
        (agent(1, skills={"billing": 4}, languages={"hi"}), BILLING_HI, True),
        (agent(1, skills={"billing": 4}, languages={"en", "hi"}), BILLING_HI, True),
        (agent(1, skills={"billing": 4}, languages={"en"}), BILLING_HI, False),
        (agent(1, skills={"billing": 4}), BILLING_HI, False),  # no language at all
        (agent(1, languages={"en"}), Requirement(language="en"), True),
        (agent(1, languages={"en"}), ANY, True),  # "" = any language
        (agent(1, skills={"billing": 4}, available=False), BILLING, False),
        (agent(1, available=False), ANY, False),
        (agent(1, capacity=2, load=1), ANY, True),
        (agent(1, capacity=2, load=2), ANY, False),  # at capacity
        (agent(1, capacity=2, load=3), ANY, False),  # over capacity (capacity was lowered)
    ],
)
def test_eligibility(a: AgentState, req: Requirement, expected: bool) -> None:
    assert a.eligible(req) is expected
    for name in STRATEGIES:
        assert build(name, a).choose(req) == (1 if expected else None)


def test_qualifies_ignores_only_the_load() -> None:
    full = agent(1, capacity=1, load=1, skills={"billing": 3})
    assert full.qualifies(BILLING) and not full.eligible(BILLING)
    assert not agent(1, available=False, skills={"billing": 3}).qualifies(BILLING)


@pytest.mark.parametrize("name", STRATEGIES)
def test_only_the_eligible_agent_is_chosen(name: str) -> None:
    strategy = build(
        name,
        agent(1, skills={"billing": 2}, languages={"hi"}),  # proficiency too low
        agent(2, skills={"billing": 5}, languages={"en"}),  # wrong language
        agent(3, skills={"billing": 5}, languages={"hi"}, available=False),
        agent(4, skills={"billing": 5}, languages={"hi"}, capacity=3, load=3),
        agent(5, skills={"billing": 3}, languages={"hi", "en"}, load=14, last_assigned=9.0),
        agent(6, skills={"sales": 5}, languages={"hi"}),
    )
    assert strategy.choose(BILLING_HI) == 5
    assert strategy.choose(Requirement.of({"billing": 4}, "hi")) is None
    assert strategy.choose(Requirement.of({"billing": 1}, "en")) in {2, 5}


@pytest.mark.parametrize("name", STRATEGIES)
def test_nobody_eligible_or_no_agents(name: str) -> None:
    strategy = make_strategy(name)
    assert strategy.choose(ANY) is None
    assert decide(strategy, ANY, 1.0) is None
    strategy.upsert(agent(1, available=False))
    assert strategy.choose(ANY) is None
    strategy.upsert(agent(2))  # joins the pool built while it was empty
    assert strategy.choose(ANY) == 2


@pytest.mark.parametrize("name", STRATEGIES)
def test_room_is_an_available_agent_below_capacity(name: str) -> None:
    strategy = make_strategy(name)
    assert not strategy.has_room()
    strategy.upsert(agent(1, available=False))
    strategy.upsert(agent(2, capacity=1, load=1))
    assert not strategy.has_room()
    strategy.release(2)
    assert strategy.has_room() and strategy.choose(ANY) == 2
    strategy.assign(2, 1.0)
    assert not strategy.has_room() and strategy.choose(ANY) is None


# --- least loaded ----------------------------------------------------------------------


@pytest.mark.parametrize("name", LEAST_LOADED_ORDER)
def test_least_loaded_compares_ratios_not_loads(name: str) -> None:
    strategy = build(
        name,
        agent(1, capacity=10, load=4),  # 0.4
        agent(2, capacity=20, load=6),  # 0.3: more conversations, but the lower ratio
        agent(3, capacity=5, load=2),  # 0.4
    )
    assert strategy.choose(ANY) == 2


@pytest.mark.parametrize("name", LEAST_LOADED_ORDER)
def test_least_loaded_close_ratios(name: str) -> None:
    # 31/47 = 0.65957... < 33/50 = 0.66: distinct ratios this close still order correctly,
    # and the more recent assignment of agent 1 does not matter.
    strategy = build(
        name,
        agent(1, capacity=47, load=31, last_assigned=500.0),
        agent(2, capacity=50, load=33, last_assigned=1.0),
    )
    assert strategy.choose(ANY) == 1


@pytest.mark.parametrize("name", LEAST_LOADED_ORDER)
def test_least_loaded_equal_ratio_goes_to_longest_idle(name: str) -> None:
    strategy = build(
        name,
        agent(1, capacity=3, load=1, last_assigned=50.0),  # 1/3
        agent(2, capacity=6, load=2, last_assigned=40.0),  # 2/6: the same ratio, idle longer
        agent(3, capacity=9, load=3, last_assigned=45.0),  # 3/9
        agent(4, capacity=10, load=4, last_assigned=0.0),  # 0.4: higher ratio
    )
    assert strategy.choose(ANY) == 2


@pytest.mark.parametrize("name", LEAST_LOADED_ORDER)
def test_least_loaded_full_tie_goes_to_lowest_id(name: str) -> None:
    strategy = build(name, *(agent(i, load=2, last_assigned=7.0) for i in (9, 4, 6)))
    assert strategy.choose(ANY) == 4


@pytest.mark.parametrize("name", LEAST_LOADED_ORDER)
def test_least_loaded_spreads_load(name: str) -> None:
    strategy = build(name, agent(1, capacity=2), agent(2, capacity=4), agent(3, capacity=4))
    chosen = [decide(strategy, ANY, float(t)) for t in range(1, 11)]
    # 1 (0/2), 2 (0/4), 3 (0/4); then 2 and 3 at 1/4 < 1 at 1/2; then the 2/4s by idle time.
    assert chosen == [1, 2, 3, 2, 3, 1, 2, 3, 2, 3]
    assert [a.load for a in strategy.agents()] == [2, 4, 4]
    assert decide(strategy, ANY, 11.0) is None


# --- round robin -----------------------------------------------------------------------


def test_round_robin_cycles_by_last_assignment_ignoring_load() -> None:
    strategy = build(
        "round_robin",
        agent(1, load=10, last_assigned=3.0),
        agent(2, load=0, last_assigned=5.0),
        agent(3, load=12, last_assigned=1.0),  # the busiest, but idle the longest
    )
    assert [decide(strategy, ANY, float(t)) for t in range(10, 17)] == [3, 1, 2, 3, 1, 2, 3]


def test_round_robin_ties_go_to_lowest_id() -> None:
    strategy = build("round_robin", agent(5), agent(2), agent(8))  # never assigned: all 0.0
    assert [decide(strategy, ANY, 1.0) for _ in range(3)] == [2, 5, 8]
    # All three were assigned at 1.0: the order by id again.
    assert decide(strategy, ANY, 2.0) == 2


def test_round_robin_skips_full_and_ineligible_agents() -> None:
    strategy = build(
        "round_robin",
        agent(1, capacity=1, last_assigned=1.0),
        agent(2, skills={"billing": 3}, last_assigned=2.0),
        agent(3, skills={"billing": 4}, last_assigned=3.0),
    )
    assert decide(strategy, ANY, 10.0) == 1  # now full
    assert decide(strategy, ANY, 11.0) == 2
    assert decide(strategy, BILLING, 12.0) == 3
    assert decide(strategy, ANY, 13.0) == 2  # 1 is full; 2 (11.0) before 3 (12.0)
    strategy.release(1)
    assert decide(strategy, ANY, 14.0) == 1  # back, with its old 10.0


@pytest.mark.parametrize("name", HEAP_STRATEGIES)
def test_times_order_like_floats(name: str) -> None:
    """Negative times sort first; -0.0 and 0.0 are the same time (then the id decides)."""
    strategy = build(name, agent(3, last_assigned=0.0), agent(2, last_assigned=-0.0))
    assert strategy.choose(ANY) == 2
    strategy.upsert(agent(4, last_assigned=-1e9))
    assert strategy.choose(ANY) == 4
    strategy.upsert(agent(4, last_assigned=float("inf")))
    assert strategy.choose(ANY) == 2
    strategy.upsert(agent(1, last_assigned=5e-324))  # the smallest positive float
    strategy.remove(2)
    assert strategy.choose(ANY) == 3


# --- capacity, assign and release ------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGIES)
def test_capacity_is_never_exceeded(name: str) -> None:
    capacities = {1: 1, 2: 3, 3: 5, 4: MAX_CAPACITY}
    strategy = build(name, *(agent(i, capacity=c) for i, c in capacities.items()))
    count = 0
    while decide(strategy, ANY, float(count)) is not None:
        count += 1
        assert all(a.load <= a.capacity for a in strategy.agents())
    assert count == sum(capacities.values())
    assert {a.agent_id: a.load for a in strategy.agents()} == capacities
    with pytest.raises(CapacityExceeded):
        strategy.assign(2, 99.0)
    assert state(strategy, 2).load == 3


@pytest.mark.parametrize("name", STRATEGIES)
def test_assign_sets_load_and_time_and_choose_changes_nothing(name: str) -> None:
    strategy = build(name, agent(1, capacity=4, load=1), agent(2, capacity=4, load=2))
    before = strategy.agents()
    assert strategy.choose(ANY) == 1
    assert strategy.choose(ANY) == 1
    assert strategy.agents() == before
    assert decide(strategy, ANY, 42.5) == 1
    assert state(strategy, 1) == agent(1, capacity=4, load=2, last_assigned=42.5)
    assert state(strategy, 2) == before[1]


@pytest.mark.parametrize("name", STRATEGIES)
def test_release_pulls_a_full_agent_back(name: str) -> None:
    strategy = build(name, agent(1, capacity=2, skills={"billing": 3}), agent(2, capacity=5))
    assert decide(strategy, BILLING, 1.0) == 1
    assert decide(strategy, BILLING, 2.0) == 1
    assert strategy.choose(BILLING) is None
    assert strategy.choose(ANY) == 2
    strategy.release(1)
    assert state(strategy, 1).load == 1
    assert strategy.choose(BILLING) == 1


def test_least_loaded_release_makes_the_agent_least_loaded_again() -> None:
    strategy = build("least_loaded", agent(1, load=3, last_assigned=9.0), agent(2, load=2))
    assert strategy.choose(ANY) == 2
    strategy.release(1)
    strategy.release(1)
    assert strategy.choose(ANY) == 1  # 1/15 < 2/15


@pytest.mark.parametrize("name", STRATEGIES)
def test_release_never_goes_below_zero(name: str) -> None:
    strategy = build(name, agent(1, load=1))
    strategy.release(1)
    strategy.release(1)
    assert state(strategy, 1).load == 0
    assert strategy.choose(ANY) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_unknown_agents(name: str) -> None:
    strategy = build(name, agent(1))
    with pytest.raises(KeyError):
        strategy.assign(2, 1.0)
    with pytest.raises(KeyError):
        strategy.release(2)
    strategy.remove(2)  # no-op
    assert strategy.get(2) is None
    assert len(strategy) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_assign_rejects_nan_time(name: str) -> None:
    strategy = build(name, agent(1))
    with pytest.raises(ValueError, match="NaN"):
        strategy.assign(1, float("nan"))
    assert state(strategy, 1).load == 0


# --- upsert and remove -----------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGIES)
def test_upsert_changing_skills_moves_the_agent_in_and_out(name: str) -> None:
    strategy = build(name, agent(1, skills={"billing": 3}), agent(2, skills={"billing": 4}, load=5))
    assert strategy.choose(BILLING) == 1  # the pool for BILLING exists now
    strategy.upsert(agent(1, skills={"billing": 2}))
    assert strategy.choose(BILLING) == 2
    strategy.upsert(agent(1, skills={"sales": 5}))
    assert strategy.choose(BILLING) == 2
    assert strategy.choose(Requirement.of({"sales": 1})) == 1
    strategy.upsert(agent(1, skills={"billing": 5, "sales": 5}))
    assert strategy.choose(BILLING) == 1
    assert strategy.choose(Requirement.of({"sales": 1})) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_upsert_changing_languages(name: str) -> None:
    strategy = build(name, agent(1, skills={"billing": 3}, languages={"hi"}))
    assert strategy.choose(BILLING_HI) == 1
    strategy.upsert(agent(1, skills={"billing": 3}, languages={"en"}))
    assert strategy.choose(BILLING_HI) is None
    assert strategy.choose(BILLING) == 1
    strategy.upsert(agent(1, skills={"billing": 3}, languages={"en", "hi"}))
    assert strategy.choose(BILLING_HI) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_upsert_changing_availability(name: str) -> None:
    strategy = build(name, agent(1, load=5), agent(2, load=9))
    assert strategy.choose(ANY) == 1
    strategy.upsert(agent(1, load=5, available=False))
    assert strategy.choose(ANY) == 2
    strategy.upsert(agent(2, load=9, available=False))
    assert strategy.choose(ANY) is None
    strategy.upsert(agent(1, load=5))
    assert strategy.choose(ANY) == 1
    assert decide(strategy, ANY, 3.0) == 1
    assert state(strategy, 1).load == 6


@pytest.mark.parametrize("name", STRATEGIES)
def test_upsert_changing_capacity(name: str) -> None:
    strategy = build(name, agent(1, capacity=10, load=4), agent(2, capacity=10, load=5))
    assert strategy.choose(ANY) == 1
    strategy.upsert(agent(1, capacity=3, load=4))  # now over capacity
    assert strategy.choose(ANY) == 2
    strategy.release(1)  # 3/3: still full
    assert strategy.choose(ANY) == 2
    strategy.release(1)  # 2/3 = 0.67 > 5/10
    assert strategy.choose(ANY) == (2 if name != "round_robin" else 1)
    strategy.upsert(agent(1, capacity=20, load=2))  # 0.1
    assert strategy.choose(ANY) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_upsert_replaces_the_whole_state(name: str) -> None:
    strategy = build(name, agent(1, skills={"billing": 3}, languages={"en"}))
    decide(strategy, ANY, 5.0)
    strategy.upsert(agent(1, capacity=4))
    assert strategy.agents() == [agent(1, capacity=4)]
    assert strategy.choose(BILLING) is None


@pytest.mark.parametrize("name", STRATEGIES)
def test_remove(name: str) -> None:
    strategy = build(name, agent(1), agent(2, load=3), agent(3, load=3))
    assert strategy.choose(ANY) == 1
    strategy.remove(1)
    assert len(strategy) == 2
    assert strategy.get(1) is None
    assert strategy.choose(ANY) == 2
    assert [a.agent_id for a in strategy.agents()] == [2, 3]
    strategy.remove(2)
    strategy.remove(3)
    assert strategy.choose(ANY) is None
    assert len(strategy) == 0
    # Back with another profile: none of its old entries counts.
    strategy.upsert(agent(1, skills={"sales": 2}))
    assert strategy.choose(ANY) == 1
    assert strategy.choose(Requirement.of({"sales": 2})) == 1
    assert strategy.choose(BILLING) is None


@pytest.mark.parametrize("name", STRATEGIES)
def test_state_is_copied_in_and_out(name: str) -> None:
    mine = agent(1, skills={"billing": 3})
    strategy = build(name, mine, agent(2, skills={"billing": 3}, load=1))
    mine.skills["billing"] = 1
    mine.load = 10
    assert strategy.choose(BILLING) == 1
    got = state(strategy, 1)
    got.load = 14
    got.skills.clear()
    strategy.agents()[0].load = 14
    assert state(strategy, 1) == agent(1, skills={"billing": 3})
    assert strategy.choose(BILLING) == 1


@pytest.mark.parametrize("name", STRATEGIES)
def test_agents_are_sorted_by_id(name: str) -> None:
    strategy = build(name, agent(30), agent(2), agent(11))
    assert [a.agent_id for a in strategy.agents()] == [2, 11, 30]


def test_heaps_stay_bounded_under_churn() -> None:
    """Stale entries are dropped: through a long run of assignments and releases (agents
    filling up and coming back) each heap stays within 3x its members plus a small slack,
    including the heap of a requirement asked for once and never again, which nothing pops."""
    sales = Requirement.of({"sales": 2})
    for strategy in (LeastLoaded(), RoundRobin()):
        for i in range(60):
            strategy.upsert(
                agent(i, capacity=2, skills={"billing": 3, "sales": 2}, languages={"en"})
            )
        assert strategy.choose(sales) == 0
        reqs = [ANY, BILLING, Requirement(language="en")]
        rnd = random.Random(7)
        for t in range(20_000):
            chosen = decide(strategy, rnd.choice(reqs), float(t))
            if chosen is None or rnd.random() < 0.5:
                strategy.release(rnd.randrange(60))
            if t % 100 == 0:
                assert all(len(p.heap) <= 3 * 60 + 16 + 1 for p in strategy._pools.values()), t
        assert len(strategy._pools) == 4
        assert strategy.choose(sales) == strategy.choose(ANY)


# --- serialisation ---------------------------------------------------------------------


def test_agent_state_round_trips_through_json() -> None:
    a = agent(7, capacity=20, load=3, available=False, skills={"sales": 2, "billing": 5},
              languages={"hi", "en"}, last_assigned=123.25)  # fmt: skip
    data = json.loads(json.dumps(a.to_dict()))
    assert data == {
        "agent_id": 7,
        "capacity": 20,
        "load": 3,
        "available": False,
        "skills": {"billing": 5, "sales": 2},
        "languages": ["en", "hi"],
        "last_assigned": 123.25,
    }
    back = AgentState.from_dict(data)
    assert back == a
    assert isinstance(back.languages, frozenset)
    assert AgentState.from_dict({"agent_id": 3}) == agent(3)


def test_requirement_round_trips_through_json() -> None:
    req = Requirement.of({"billing": 3, "sales": 1}, "hi")
    data = json.loads(json.dumps(req.to_dict()))
    assert data == {"skills": [["billing", 3], ["sales", 1]], "language": "hi"}
    assert Requirement.from_dict(data) == req
    assert hash(Requirement.from_dict(data)) == hash(req)
    assert Requirement.from_dict({"skills": {"billing": 3}}) == BILLING
    assert Requirement.from_dict({}) == ANY


def test_requirement_accepts_any_iterable_of_pairs() -> None:
    req = Requirement({("billing", 3)})  # type: ignore[arg-type]
    assert isinstance(req.skills, frozenset)
    assert req == BILLING
    assert {req: 1}[BILLING] == 1


def test_a_strategy_restores_from_a_snapshot() -> None:
    original = build("least_loaded", agent(1, load=3), agent(2, load=1, skills={"sales": 1}))
    decide(original, ANY, 4.0)
    snapshot = json.loads(json.dumps([a.to_dict() for a in original.agents()]))
    for name in STRATEGIES:
        restored = build(name, *(AgentState.from_dict(d) for d in snapshot))
        assert restored.agents() == original.agents()
        # Least-loaded: 2/15 < 3/15; round robin: 1 never assigned, 2 at 4.0.
        assert restored.choose(ANY) == (1 if name == "round_robin" else 2)


# --- validation and the factory --------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"capacity": 0},
        {"capacity": MAX_CAPACITY + 1},
        {"load": -1},
        {"skills": {"billing": 0}},
        {"skills": {"billing": 6}},
        {"skills": {"": 3}},
        {"last_assigned": float("nan")},
    ],
)
def test_agent_state_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each case has its own message)
        agent(1, **kwargs)


@pytest.mark.parametrize("agent_id", [-1, 2**64, True, "1"])
def test_agent_ids_are_non_negative_64_bit_integers(agent_id: object) -> None:
    with pytest.raises(ValueError, match="agent_id"):
        AgentState(agent_id)  # type: ignore[arg-type]
    assert AgentState(2**64 - 1).agent_id == 2**64 - 1


@pytest.mark.parametrize("pairs", [{("billing", 0)}, {("billing", 6)}, {("", 2)}])
def test_requirement_rejects_bad_proficiency(pairs: set[tuple[str, int]]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Requirement(frozenset(pairs))


def test_make_strategy() -> None:
    assert STRATEGIES == ("least_loaded", "round_robin", "linear_scan")
    assert isinstance(make_strategy("least_loaded"), LeastLoaded)
    assert isinstance(make_strategy("round_robin"), RoundRobin)
    assert isinstance(make_strategy("linear_scan"), LinearScan)
    first, second = make_strategy("least_loaded"), make_strategy("least_loaded")
    first.upsert(agent(1))
    assert len(first) == 1 and len(second) == 0


@pytest.mark.parametrize("name", ["", "LeastLoaded", "least-loaded", "random"])
def test_make_strategy_rejects_unknown_names(name: str) -> None:
    with pytest.raises(ValueError, match="least_loaded, round_robin, linear_scan"):
        make_strategy(name)


# --- properties: the heap strategies against brute force -------------------------------


def brute_force(agents: dict[int, AgentState], req: Requirement, least_loaded: bool) -> int | None:
    """The reference: sort every eligible agent by the strategy's full order."""
    eligible = [a for a in agents.values() if a.eligible(req)]
    if least_loaded:
        eligible.sort(key=lambda a: (a.load / a.capacity, a.last_assigned, a.agent_id))
    else:
        eligible.sort(key=lambda a: (a.last_assigned, a.agent_id))
    return eligible[0].agent_id if eligible else None


@dataclass
class World:
    """Strategies kept in step with a plain dict of states (the model)."""

    least_loaded: bool
    strategies: list[Strategy]
    model: dict[int, AgentState]

    def apply(self, op: tuple[object, ...]) -> None:
        kind = op[0]
        if kind == "upsert":
            a = op[1]
            assert isinstance(a, AgentState)
            self.model[a.agent_id] = a.copy()
            for s in self.strategies:
                s.upsert(a)
        elif kind == "remove":
            agent_id = int(op[1])  # type: ignore[call-overload]
            self.model.pop(agent_id, None)
            for s in self.strategies:
                s.remove(agent_id)
        elif kind == "release":
            agent_id = int(op[1])  # type: ignore[call-overload]
            if agent_id not in self.model:
                for s in self.strategies:
                    with pytest.raises(KeyError):
                        s.release(agent_id)
                return
            self.model[agent_id].load = max(0, self.model[agent_id].load - 1)
            for s in self.strategies:
                s.release(agent_id)
        elif kind == "assign":  # an assignment the strategy did not choose (a transfer)
            agent_id, at = int(op[1]), float(op[2])  # type: ignore[call-overload, arg-type]
            a = self.model.get(agent_id)
            if a is None or a.full:
                for s in self.strategies:
                    with pytest.raises(KeyError if a is None else CapacityExceeded):
                        s.assign(agent_id, at)
                return
            a.load += 1
            a.last_assigned = at
            for s in self.strategies:
                s.assign(agent_id, at)
        elif kind == "set_load":  # the index mirrors a load the database changed
            agent_id, load, at = int(op[1]), int(op[2]), float(op[3])  # type: ignore[call-overload, arg-type]
            a = self.model.get(agent_id)
            known = [s.set_load(agent_id, load, at) for s in self.strategies]
            assert known == [a is not None] * len(self.strategies)
            if a is not None:
                a.load, a.last_assigned = load, at
        else:  # "decide": every strategy must choose the model's agent
            req, at = op[1], float(op[2])  # type: ignore[arg-type]
            assert isinstance(req, Requirement)
            expected = brute_force(self.model, req, self.least_loaded)
            assert [s.choose(req) for s in self.strategies] == [expected] * len(self.strategies)
            if expected is not None:
                self.model[expected].load += 1
                self.model[expected].last_assigned = at
                for s in self.strategies:
                    s.assign(expected, at)
        expected_states = [self.model[i] for i in sorted(self.model)]
        for s in self.strategies:
            assert s.agents() == expected_states
            assert len(s) == len(self.model)


SKILL_NAMES = ("billing", "sales", "tech")
LANGS = ("en", "hi")
# Few distinct times, so ties are frequent, plus a few awkward floats.
times = st.one_of(
    st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
agent_ids = st.integers(min_value=0, max_value=7)
agent_states = st.builds(
    AgentState,
    agent_id=agent_ids,
    capacity=st.integers(min_value=1, max_value=6),
    load=st.integers(min_value=0, max_value=7),
    available=st.booleans(),
    skills=st.dictionaries(st.sampled_from(SKILL_NAMES), st.integers(1, 5), max_size=3),
    languages=st.frozensets(st.sampled_from(LANGS)),
    last_assigned=times,
)
requirements = st.builds(
    Requirement,
    skills=st.frozensets(st.tuples(st.sampled_from(SKILL_NAMES), st.integers(1, 5)), max_size=2),
    language=st.sampled_from(("", *LANGS)),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), agent_states),
        st.tuples(st.just("remove"), agent_ids),
        st.tuples(st.just("release"), agent_ids),
        st.tuples(st.just("assign"), agent_ids, times),
        st.tuples(st.just("set_load"), agent_ids, st.integers(min_value=0, max_value=7), times),
        st.tuples(st.just("decide"), requirements, times),
        st.tuples(st.just("decide"), requirements, times),
    ),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(operations)
def test_least_loaded_agrees_with_the_linear_scan(ops: list[tuple[object, ...]]) -> None:
    world = World(True, [LeastLoaded(), LinearScan()], {})
    for op in ops:
        world.apply(op)


@settings(max_examples=400, deadline=None)
@given(operations)
def test_round_robin_agrees_with_a_scan(ops: list[tuple[object, ...]]) -> None:
    world = World(False, [RoundRobin()], {})
    for op in ops:
        world.apply(op)


@pytest.mark.parametrize("least_loaded", [True, False])
def test_long_random_run_agrees_with_brute_force(least_loaded: bool) -> None:
    """Long enough for heaps to be rebuilt many times (hypothesis keeps sequences short)."""
    rnd = random.Random(2026)
    strategies: list[Strategy] = [LeastLoaded(), LinearScan()] if least_loaded else [RoundRobin()]
    world = World(least_loaded, strategies, {})
    reqs = [
        Requirement.of({s: rnd.randint(1, 3)} if rnd.random() < 0.7 else {}, rnd.choice(LANGS))
        for s in SKILL_NAMES
    ] + [ANY, Requirement(language="hi")]

    def random_agent(agent_id: int) -> AgentState:
        return AgentState(
            agent_id,
            capacity=rnd.randint(1, 8),
            load=rnd.randint(0, 3),
            available=rnd.random() < 0.9,
            skills={s: rnd.randint(1, 5) for s in rnd.sample(SKILL_NAMES, rnd.randint(0, 3))},
            languages=frozenset(rnd.sample(LANGS, rnd.randint(1, 2))),
            last_assigned=float(rnd.randint(0, 50)),
        )

    for i in range(40):
        world.apply(("upsert", random_agent(i)))
    for t in range(3000):
        roll = rnd.random()
        if roll < 0.02:
            world.apply(("upsert", random_agent(rnd.randrange(45))))
        elif roll < 0.03:
            world.apply(("remove", rnd.randrange(45)))
        elif roll < 0.45:
            world.apply(("release", rnd.randrange(40)))
        else:
            world.apply(("decide", rnd.choice(reqs), float(t // 3)))


@pytest.mark.parametrize("name", ["least_loaded", "round_robin", "linear_scan"])
def test_set_load_rejects_what_no_agent_can_have(name: str) -> None:
    s = make_strategy(name)
    s.upsert(AgentState(agent_id=1, capacity=2))
    with pytest.raises(ValueError, match="negative"):
        s.set_load(1, -1, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        s.set_load(1, 1, float("nan"))
    assert s.set_load(2, 1, 0.0) is False  # unknown: nothing to mirror
