"""Messaging fixtures: the events actions publish (the business number is tests/parley's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley.core import publish
from parley.core.events import Event


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """Every event dispatched (after its transaction committed) while the test runs."""
    seen: list[Event] = []
    publish.listen()(seen.append)
    try:
        yield seen
    finally:
        publish._any_listeners.remove(seen.append)
