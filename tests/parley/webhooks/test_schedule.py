"""The retry schedule and the circuit breaker (pure)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from parley.webhooks import schedule
from parley.webhooks.schedule import Breaker, RetryPolicy

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
NO_JITTER = RetryPolicy(jitter=0.0)


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    p = RetryPolicy(base=10, max_interval=100, jitter=0)
    assert [p.backoff(n).total_seconds() for n in range(1, 7)] == [10, 20, 40, 80, 100, 100]


def test_jitter_stays_within_its_band_and_varies() -> None:
    p = RetryPolicy(base=100, max_interval=10_000, jitter=0.2)
    rng = random.Random(7)
    delays = [p.backoff(1, rng).total_seconds() for _ in range(200)]
    assert all(80 <= d <= 120 for d in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    d = schedule.decide(status=status, retry_after_header=None, attempts=1,
                        round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert d.outcome == schedule.DELIVERED


@pytest.mark.parametrize("status", [None, 301, 302, 400, 401, 404, 500, 502])
def test_other_answers_and_no_answer_are_retried_on_the_backoff(status: int | None) -> None:
    d = schedule.decide(status=status, retry_after_header=None, attempts=3,
                        round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert d.outcome == schedule.RETRY
    assert d.next_attempt_at == T0 + dt.timedelta(seconds=40)


def test_410_means_gone() -> None:
    d = schedule.decide(status=410, retry_after_header=None, attempts=1,
                        round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert d.outcome == schedule.GONE


def test_retry_after_seconds_and_dates_replace_the_backoff_on_429_and_503() -> None:
    seconds = schedule.decide(status=429, retry_after_header="120", attempts=1,
                              round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert seconds.next_attempt_at == T0 + dt.timedelta(seconds=120)
    date = "Sun, 01 Mar 2026 12:05:00 GMT"
    dated = schedule.decide(status=503, retry_after_header=date, attempts=1,
                            round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert dated.next_attempt_at == T0 + dt.timedelta(minutes=5)
    # Nonsense falls back to the backoff; a 500's Retry-After is not a throttle.
    junk = schedule.decide(status=429, retry_after_header="soon", attempts=1,
                           round_started_at=T0, now=T0, policy=NO_JITTER)  # fmt: skip
    assert junk.next_attempt_at == T0 + dt.timedelta(seconds=10)


def test_retries_stop_after_the_maximum_age_as_a_dead_letter() -> None:
    p = RetryPolicy(jitter=0, max_age=7 * 86400)
    late = T0 + dt.timedelta(days=7) - dt.timedelta(seconds=5)
    d = schedule.decide(status=500, retry_after_header=None, attempts=40,
                        round_started_at=T0, now=late, policy=p)  # fmt: skip
    assert d.outcome == schedule.DEAD
    day6 = T0 + dt.timedelta(days=6)
    still = schedule.decide(status=500, retry_after_header=None, attempts=40,
                            round_started_at=T0, now=day6, policy=p)  # fmt: skip
    assert still.outcome == schedule.RETRY


def test_a_full_week_of_failures_takes_many_attempts_then_gives_up() -> None:
    p = RetryPolicy(jitter=0)
    now, attempts = T0, 0
    while True:
        attempts += 1
        d = schedule.decide(status=503, retry_after_header=None, attempts=attempts,
                            round_started_at=T0, now=now, policy=p)  # fmt: skip
        if d.outcome == schedule.DEAD:
            break
        assert d.next_attempt_at is not None
        now = d.next_attempt_at
    assert dt.timedelta(days=6) < now - T0 <= dt.timedelta(days=7)
    assert 150 < attempts < 200


def test_the_breaker_opens_at_the_threshold_backs_off_and_closes_on_success() -> None:
    p = RetryPolicy(breaker_threshold=5, breaker_cooldown=30, breaker_max_cooldown=120)
    b = schedule.after_attempts(Breaker(0, None), 0, 4, T0, p)
    assert b == Breaker(4, None) and not schedule.is_open(b, T0)
    b = schedule.after_attempts(b, 0, 1, T0, p)
    assert b == Breaker(5, T0 + dt.timedelta(seconds=30))
    assert schedule.is_open(b, T0 + dt.timedelta(seconds=29))
    later = T0 + dt.timedelta(seconds=31)
    assert not schedule.is_open(b, later) and schedule.is_half_open(b, later, p)
    b = schedule.after_attempts(b, 0, 1, later, p)  # the probe failed
    assert b.open_until == later + dt.timedelta(seconds=60)
    b = schedule.after_attempts(b, 0, 5, later, p)
    assert b.open_until == later + dt.timedelta(seconds=120)  # capped
    assert schedule.after_attempts(b, 1, 3, later, p) == Breaker(0, None)


def test_policy_from_settings_ignores_unknown_keys() -> None:
    p = RetryPolicy.from_settings({"base": 1.5, "nonsense": 3})
    assert p.base == 1.5 and p.max_age == 7 * 86400
