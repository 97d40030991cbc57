"""Agent billing categories, legacy-value normalisation and the immutability rule.

An RCS agent's billing category is chosen when the agent is created and can never change.
The legacy categories ``BASIC_MESSAGE`` and ``SINGLE_MESSAGE`` were merged into
``NON_CONVERSATIONAL`` (2025-11-20); APIs kept reporting the legacy value during a 90-day
transition that ended 2026-02-18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from billing.engine.errors import CategoryImmutableError, UnknownCategoryError

LEGACY_TRANSITION_END = date(2026, 2, 18)


class BillingCategory(StrEnum):
    CONVERSATIONAL = "CONVERSATIONAL"
    NON_CONVERSATIONAL = "NON_CONVERSATIONAL"


LEGACY_CATEGORIES = frozenset({"BASIC_MESSAGE", "SINGLE_MESSAGE"})


def normalise_category(value: str | BillingCategory) -> BillingCategory:
    """Map an input category (current or legacy, any case/whitespace) to a current one.

    Raises :class:`UnknownCategoryError` for anything else.
    """
    if isinstance(value, BillingCategory):
        return value
    if not isinstance(value, str):
        raise UnknownCategoryError(f"billing category must be a string, got {type(value).__name__}")
    key = value.strip().upper()
    if key in LEGACY_CATEGORIES:
        return BillingCategory.NON_CONVERSATIONAL
    try:
        return BillingCategory(key)
    except ValueError:
        allowed = ", ".join([*BillingCategory, *sorted(LEGACY_CATEGORIES)])
        raise UnknownCategoryError(
            f"unknown billing category {value!r}; expected one of {allowed}"
        ) from None


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's billing identity. Frozen: the category cannot be reassigned."""

    agent_id: str
    category: BillingCategory
    # The legacy value the agent was created with, if any; reported during the transition.
    legacy_category: str | None = None

    @classmethod
    def create(cls, agent_id: str, category: str | BillingCategory) -> Agent:
        legacy = category.strip().upper() if isinstance(category, str) else None
        return cls(
            agent_id=agent_id,
            category=normalise_category(category),
            legacy_category=legacy if legacy in LEGACY_CATEGORIES else None,
        )

    def with_category(self, category: str | BillingCategory) -> Agent:
        """Always refuses a different category: it is fixed at creation."""
        new = normalise_category(category)
        if new is not self.category:
            raise CategoryImmutableError(
                f"agent {self.agent_id!r} has billing category {self.category}; "
                f"it was chosen at creation and cannot be changed to {new}"
            )
        return self

    def reported_category(self, on: date) -> str:
        """The value APIs report on ``on``: the legacy value until the transition ends."""
        if self.legacy_category is not None and on < LEGACY_TRANSITION_END:
            return self.legacy_category
        return self.category.value


@dataclass(slots=True)
class AgentRegistry:
    """In-memory registry enforcing one category per agent (the Django app persists it)."""

    _agents: dict[str, Agent] = field(default_factory=dict)

    def register(self, agent_id: str, category: str | BillingCategory) -> Agent:
        """Create the agent, or return it unchanged if registered with the same category."""
        agent = Agent.create(agent_id, category)
        existing = self._agents.get(agent_id)
        if existing is not None:
            return existing.with_category(agent.category)
        self._agents[agent_id] = agent
        return agent

    def get(self, agent_id: str) -> Agent | None:
        return self._agents.get(agent_id)

    def check(self, agent_id: str, category: BillingCategory) -> None:
        """Fail if facts claim a category other than the registered one (registers if new)."""
        existing = self._agents.get(agent_id)
        if existing is None:
            self._agents[agent_id] = Agent(agent_id, category)
        elif existing.category is not category:
            existing.with_category(category)

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents
