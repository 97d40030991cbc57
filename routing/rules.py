"""Routing rules, pure: which queue, priority and language a new session gets from what the
customer sent and who they are. The first matching rule (by position) decides."""

from __future__ import annotations

import dataclasses
import unicodedata


@dataclasses.dataclass(frozen=True)
class Rule:
    kind: str  # keyword, button, country, number
    value: str
    queue_id: int | None = None
    priority: int = 0
    language: str = ""


@dataclasses.dataclass(frozen=True)
class Inbound:
    """What a rule can look at: the first message of the session and its sender."""

    text: str = ""
    button: str = ""  # a reply button's id or title, or a template quick reply's payload
    country: str = ""  # ISO 3166 region of the customer's number
    number_id: int = 0


@dataclasses.dataclass(frozen=True)
class Decision:
    queue_id: int | None = None
    priority: int = 0
    language: str = ""
    rule_index: int | None = None


def _words(text: str) -> set[str]:
    """The text's whole words, casefolded. Combining marks belong to their word: `\\w` alone
    splits "नमस्ते" at its vowel signs and virama, so a Hindi keyword never matched."""
    words: set[str] = set()
    current: list[str] = []
    for char in text.casefold() + " ":
        if char.isalnum() or char == "_" or unicodedata.category(char).startswith("M"):
            current.append(char)
        elif current:
            words.add("".join(current))
            current = []
    return words


def matches(rule: Rule, inbound: Inbound) -> bool:
    value = rule.value.strip()
    if not value:
        return False
    if rule.kind == "keyword":
        wanted = value.casefold()
        # A phrase matches as a substring; a single word as a whole word.
        return (
            wanted in inbound.text.casefold() if " " in wanted else wanted in _words(inbound.text)
        )
    if rule.kind == "button":
        return bool(inbound.button) and inbound.button.casefold() == value.casefold()
    if rule.kind == "country":
        return inbound.country.upper() == value.upper()
    if rule.kind == "number":
        return str(inbound.number_id) == value
    return False


def decide(rules: list[Rule], inbound: Inbound) -> Decision:
    for i, rule in enumerate(rules):
        if matches(rule, inbound):
            return Decision(rule.queue_id, rule.priority, rule.language, i)
    return Decision()
