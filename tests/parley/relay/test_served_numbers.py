"""The nudge's memo of which business numbers are served: answers are kept a few seconds
per process, and dropped at once when an endpoint changes in this process."""

from __future__ import annotations

from typing import Any

import pytest

from parley.accounts.models import PhoneNumber
from parley.messaging.actions import do_enable_endpoint
from parley.messaging.selectors import SERVED, ServedNumbers, is_endpoint_served

pytestmark = pytest.mark.django_db


def test_a_served_number_is_remembered_until_it_expires(
    number: PhoneNumber, django_assert_num_queries: Any
) -> None:
    now = [100.0]
    cache = ServedNumbers(ttl=5, timer=lambda: now[0])
    for _ in range(2):  # not served: never remembered, so a change elsewhere counts at once
        with django_assert_num_queries(1):
            assert not is_endpoint_served(number.e164, cache=cache)
    do_enable_endpoint(number)  # changes SERVED, not this cache
    with django_assert_num_queries(1):
        assert is_endpoint_served(number.e164, cache=cache)
    do_enable_endpoint(number, active=False)
    now[0] = 104.9
    with django_assert_num_queries(0):
        assert is_endpoint_served(number.e164, cache=cache)  # remembered, stale
    assert not is_endpoint_served(number.e164)  # without a cache: the database's answer
    now[0] = 105.0
    with django_assert_num_queries(1):
        assert not is_endpoint_served(number, cache=cache)  # expired: read again


def test_an_endpoint_changed_in_this_process_is_seen_at_once(
    number: PhoneNumber, django_assert_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert not is_endpoint_served(number.e164, cache=SERVED)
    with django_capture_on_commit_callbacks(execute=True):
        do_enable_endpoint(number)
    with django_assert_num_queries(1):
        assert is_endpoint_served(number.e164, cache=SERVED)
    with django_assert_num_queries(0):
        assert is_endpoint_served(number.e164, cache=SERVED)
    with django_capture_on_commit_callbacks(execute=True):
        do_enable_endpoint(number, active=False)
    assert not is_endpoint_served(number.e164, cache=SERVED)


def test_a_read_overtaken_by_a_change_is_not_kept() -> None:
    cache = ServedNumbers()
    generation = cache.generation
    cache.forget()  # an endpoint changed while the read ran
    cache.put("+14155550100", False, generation)
    assert cache.get("+14155550100") is None
    cache.put("+14155550100", True, cache.generation)
    assert cache.get("+14155550100") is True


def test_the_memo_stays_small() -> None:
    cache = ServedNumbers()
    for i in range(ServedNumbers.MAX_NUMBERS + 10):
        cache.put(f"+1415{i:07d}", True, cache.generation)
    assert len(cache._answers) <= ServedNumbers.MAX_NUMBERS
