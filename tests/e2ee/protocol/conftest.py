"""The protocol tests need no Django: neutralise the suite-wide autouse fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean_rate_limits() -> None:
    """Overrides the root conftest's cache clearing, which needs Django settings."""
