"""The platform's send limits, counted on the simulation clock in Redis (shared by every web
process): a number's throughput (80 messages a second at the STANDARD level, 1,000 at HIGH;
130429 beyond) and the pair rate of one business number to one customer (about one message
every 6 s, in bursts of up to 45; 131056 beyond). Both are token buckets: a refused send
takes no token, so a client that backs off is served as soon as the bucket refills."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings

from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.errors import MessagingError

# KEYS: the number's bucket, the pair's. ARGV: each one's capacity and tokens per second,
# then now (s, simulation clock). Returns 1 (a token taken from both), 0 (the number's is
# empty) or -1 (the pair's is empty); a refusal takes nothing. A clock moved backwards
# refills nothing.
_TAKE = """
local now = tonumber(ARGV[5])
local level = {}
for i = 1, 2 do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  if now > at then tokens = math.min(capacity, tokens + (now - at) * rate) end
  level[i] = tokens
end
if level[1] < 1 then return 0 end
if level[2] < 1 then return -1 end
for i = 1, 2 do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(level[i] - 1), 'at', tostring(now))
  redis.call('EXPIRE', KEYS[i], math.ceil(capacity / rate) + 60)
end
return 1
"""

_client: redis.Redis | None = None
_script: Any = None


def _take(keys: list[str], args: list[float]) -> int:
    global _client, _script
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
        _script = _client.register_script(_TAKE)
    now = clock.now().timestamp()
    names = [f"{settings.NAMESPACE}:limits:{key}" for key in keys]
    return int(_script(keys=names, args=[*args, f"{now:.6f}"]))


def throughput(number: PhoneNumber) -> int:
    """Messages per second the number may send (its level's, from PARLEY settings)."""
    high = number.throughput_level == PhoneNumber.Throughput.HIGH
    return int(settings.PARLEY["THROUGHPUT_HIGH" if high else "THROUGHPUT_STANDARD"])


def take_send(number: PhoneNumber, customer: str) -> None:
    """Count one send of `number` to `customer`, or refuse it (nothing counted)."""
    upgrading = number.throughput_upgrading_until
    if upgrading is not None and clock.now() < upgrading:
        raise MessagingError(
            131057,
            "Account in maintenance mode",
            "The number's throughput is being upgraded: sends resume at "
            f"{upgrading:%Y-%m-%d %H:%M:%S} UTC.",
        )
    rate = throughput(number)
    every = float(settings.PARLEY["PAIR_RATE_SECONDS"])
    burst = int(settings.PARLEY["PAIR_RATE_BURST"])
    taken = _take(
        [f"throughput:{number.pk}", f"pair:{number.pk}:{customer}"],
        [rate, rate, burst, 1 / every],
    )
    if taken == 0:
        raise MessagingError(
            130429,
            "Rate limit hit",
            "Message failed to send because there were too many messages sent from this "
            f"phone number in a short period of time (its throughput is {rate} messages a "
            "second).",
            http_status=429,
        )
    if taken < 0:
        raise MessagingError(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages sent from the sender phone number to the same recipient phone "
            f"number in a short period of time (about one every {every:g} s, in bursts of up "
            f"to {burst}).",
            http_status=429,
        )
