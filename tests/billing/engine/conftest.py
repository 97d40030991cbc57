"""The rating engine is pure: its tests need no database, cache or server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Overrides the suite-wide fixture that clears the (Redis) cache: nothing to clear."""
