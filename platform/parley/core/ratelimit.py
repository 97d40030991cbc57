"""Fixed-window rate limits counted in Redis, shared by every server process."""

from __future__ import annotations

from django.core.cache import cache

from parley.core import clock
from parley.core.errors import RateLimited


def hit(bucket: str, *, limit: int, window_seconds: int) -> None:
    """Count one hit; raise RateLimited once `limit` hits fall in the current window."""
    now = int(clock.now().timestamp())
    window = now // window_seconds
    key = f"rl:{bucket}:{window}"
    if cache.add(key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window_seconds + 1)
            count = 1
    if count > limit:
        retry_after = window_seconds - (now % window_seconds)
        raise RateLimited("Too many requests. Try again later.", retry_after=max(1, retry_after))
