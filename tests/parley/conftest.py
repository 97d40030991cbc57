"""Fixtures of Parley's platform tests: a registered business number."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from parley.accounts.models import PhoneNumber
from parley.core import clock

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
