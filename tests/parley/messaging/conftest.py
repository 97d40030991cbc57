"""Messaging fixtures: a business number, and the events actions publish."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from parley.accounts.models import PhoneNumber
from parley.core import clock, publish
from parley.core.events import Event

_numbers = itertools.count(1)


@pytest.fixture
def number(factory: Any) -> PhoneNumber:
    business = factory.business("Shop", country="US")
    return PhoneNumber.objects.create(
        business=business,
        e164=f"+1415555{next(_numbers) % 10000:04d}",
        country="US",
        display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """Every event dispatched (after its transaction committed) while the test runs."""
    seen: list[Event] = []
    publish.listen()(seen.append)
    try:
        yield seen
    finally:
        publish._any_listeners.remove(seen.append)
