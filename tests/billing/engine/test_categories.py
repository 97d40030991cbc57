"""Agent billing categories: normalisation of legacy values and immutability."""

from __future__ import annotations

from datetime import date

import pytest

from billing.engine import (
    Agent,
    AgentRegistry,
    BillingCategory,
    BillingError,
    CategoryImmutableError,
    UnknownCategoryError,
    normalise_category,
    rate,
)
from tests.billing.engine.factories import CONV, LATER, NON_CONV, fact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("CONVERSATIONAL", BillingCategory.CONVERSATIONAL),
        ("NON_CONVERSATIONAL", BillingCategory.NON_CONVERSATIONAL),
        ("BASIC_MESSAGE", BillingCategory.NON_CONVERSATIONAL),
        ("SINGLE_MESSAGE", BillingCategory.NON_CONVERSATIONAL),
        (" single_message ", BillingCategory.NON_CONVERSATIONAL),
        ("conversational", BillingCategory.CONVERSATIONAL),
        (BillingCategory.CONVERSATIONAL, BillingCategory.CONVERSATIONAL),
    ],
)
def test_normalise(value: str, expected: BillingCategory) -> None:
    assert normalise_category(value) is expected


@pytest.mark.parametrize("value", ["", "BASIC", "CONVERSATION", "PER_MESSAGE", None, 3])
def test_unknown_category_is_a_typed_error(value: object) -> None:
    with pytest.raises(UnknownCategoryError) as info:
        normalise_category(value)  # type: ignore[arg-type]
    assert isinstance(info.value, BillingError)
    assert isinstance(info.value, ValueError)
    assert info.value.code == "unknown_billing_category"


def test_agent_category_cannot_change() -> None:
    agent = Agent.create("agent-1", "CONVERSATIONAL")
    assert agent.with_category("conversational") is agent  # same category: fine
    with pytest.raises(CategoryImmutableError, match="cannot be changed"):
        agent.with_category("NON_CONVERSATIONAL")
    with pytest.raises(AttributeError):
        agent.category = BillingCategory.NON_CONVERSATIONAL  # type: ignore[misc]


def test_registry_rejects_a_second_category() -> None:
    registry = AgentRegistry()
    first = registry.register("agent-1", "BASIC_MESSAGE")
    assert first.category is BillingCategory.NON_CONVERSATIONAL
    assert registry.register("agent-1", "NON_CONVERSATIONAL") is first  # legacy = same
    with pytest.raises(CategoryImmutableError):
        registry.register("agent-1", "CONVERSATIONAL")
    assert registry.get("agent-1") is first
    assert "agent-1" in registry
    assert len(registry) == 1


def test_legacy_value_is_reported_during_the_transition_only() -> None:
    agent = Agent.create("agent-1", "SINGLE_MESSAGE")
    assert agent.reported_category(date(2026, 2, 17)) == "SINGLE_MESSAGE"
    assert agent.reported_category(date(2026, 2, 18)) == "NON_CONVERSATIONAL"
    assert Agent.create("agent-2", "CONVERSATIONAL").reported_category(date(2026, 1, 1)) == (
        "CONVERSATIONAL"
    )


def test_rating_rejects_facts_that_change_an_agents_category() -> None:
    facts = [fact("a1", hours=0, category=CONV), fact("a2", hours=1, category=NON_CONV)]
    with pytest.raises(CategoryImmutableError):
        rate(facts, now=LATER)


def test_rating_checks_the_registry_across_customers_and_calls() -> None:
    registry = AgentRegistry()
    rate([fact("a1", category=CONV)], now=LATER, registry=registry)
    with pytest.raises(CategoryImmutableError):
        rate(
            [fact("a2", category=NON_CONV, customer="+5511987654321")], now=LATER, registry=registry
        )
