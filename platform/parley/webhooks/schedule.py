"""When to try a delivery again, and when to leave a receiver alone (pure).

Retries back off exponentially from `base` (doubling, capped at `max_interval`) with
random jitter, for up to `max_age` after the round's first attempt (Meta retries for up to
7 days); a `Retry-After` the receiver sent replaces the backoff. After `breaker_threshold`
consecutive failures the app's circuit opens: nothing is sent to it for a cooldown that
doubles with each further failure; then one delivery probes it (half-open), and a success
closes the circuit. A 410 disables the app until its callback is verified again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import random
from typing import Any

DELIVERED = "delivered"
RETRY = "retry"
DEAD = "dead"
GONE = "gone"


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    base: float = 10.0
    max_interval: float = 3600.0
    max_age: float = 7 * 24 * 3600.0
    jitter: float = 0.2  # the delay is multiplied by a factor in [1 - jitter, 1 + jitter]
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    breaker_max_cooldown: float = 3600.0

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> RetryPolicy:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def backoff(self, attempts: int, rng: random.Random | None = None) -> dt.timedelta:
        """The delay after the `attempts`-th failed attempt of a round (1 = the first)."""
        delay = min(self.max_interval, self.base * 2 ** max(0, attempts - 1))
        if self.jitter:
            delay *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return dt.timedelta(seconds=min(delay, self.max_interval))

    def cooldown(self, consecutive_failures: int) -> dt.timedelta:
        extra = max(0, consecutive_failures - self.breaker_threshold)
        seconds = min(self.breaker_max_cooldown, self.breaker_cooldown * 2 ** min(extra, 30))
        return dt.timedelta(seconds=seconds)


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """A `Retry-After` header as a delay: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return dt.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(dt.timedelta(0), when - now)


@dataclasses.dataclass(frozen=True)
class Decision:
    outcome: str  # DELIVERED, RETRY, DEAD or GONE
    next_attempt_at: dt.datetime | None = None


def decide(
    *,
    status: int | None,
    retry_after_header: str | None,
    attempts: int,
    round_started_at: dt.datetime,
    now: dt.datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> Decision:
    """What an attempt's result means for its delivery. `attempts` counts this round's
    attempts including this one; `status` is None when no response came (timeout, refused
    connection). Redirects are failures: they are never followed."""
    if status is not None and 200 <= status < 300:
        return Decision(DELIVERED)
    if status == 410:
        # The app is disabled; the delivery waits, due at once, for it to be verified again.
        return Decision(GONE, now)
    delay = retry_after(retry_after_header, now) if status in (429, 503) else None
    if delay is None:
        delay = policy.backoff(attempts, rng)
    next_at = now + delay
    if next_at > round_started_at + dt.timedelta(seconds=policy.max_age):
        return Decision(DEAD)
    return Decision(RETRY, next_at)


@dataclasses.dataclass(frozen=True)
class Breaker:
    consecutive_failures: int
    open_until: dt.datetime | None


def after_attempts(
    breaker: Breaker, successes: int, failures: int, now: dt.datetime, policy: RetryPolicy
) -> Breaker:
    """The circuit after a flush of an app's results (any success closes it)."""
    if successes:
        return Breaker(0, None)
    if not failures:
        return breaker
    count = breaker.consecutive_failures + failures
    if count < policy.breaker_threshold:
        return Breaker(count, None)
    return Breaker(count, now + policy.cooldown(count))


def is_half_open(breaker: Breaker, now: dt.datetime, policy: RetryPolicy) -> bool:
    """Past the cooldown of an opened circuit: one probe at a time."""
    return breaker.consecutive_failures >= policy.breaker_threshold and (
        breaker.open_until is None or breaker.open_until <= now
    )


def is_open(breaker: Breaker, now: dt.datetime) -> bool:
    return breaker.open_until is not None and breaker.open_until > now
