"""The synthetic generator the benchmarks use: deterministic and covering every model."""

from __future__ import annotations

from collections import Counter

from billing.engine import BillingModel, Channel, rate
from billing.engine.synthetic import SYNTHETIC_NOW, generate_facts, iter_facts


def test_deterministic() -> None:
    assert generate_facts(500, seed=3) == generate_facts(500, seed=3)
    assert generate_facts(500, seed=3) != generate_facts(500, seed=4)
    assert len(list(iter_facts(123))) == 123


def test_mix() -> None:
    facts = generate_facts(5000)
    result = rate(facts, now=SYNTHETIC_NOW)
    models = Counter(e.model for e in result.events)
    assert set(models) == set(BillingModel)
    types = {e.event_type.value for e in result.events}
    assert {"a2p_conversation", "p2a_conversation", "basic_message", "single_message"} <= types
    assert {"whatsapp_message", "whatsapp_conversation", "a2p_rich_message"} <= types
    countries = {e.country for e in result.events}
    assert {"US", "IN", "BR"} <= countries
    assert result.stats.expired > 0
    assert result.stats.pending > 0
    assert {f.channel for f in facts} == set(Channel)
