"""The platform's send limits, counted on the simulation clock in Redis (shared by every web
process): a number's throughput (80 messages a second at the STANDARD level, 1,000 at HIGH;
130429 beyond) and the pair rate of one business number to one customer (about one message
every 6 s, in bursts of up to 45; 131056 beyond). Both are token buckets: a refused send
takes no token, so a client that backs off is served as soon as the bucket refills."""

from __future__ import annotations

import hashlib

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
_sha = hashlib.sha1(_TAKE.encode()).hexdigest()


def _take(buckets: list[tuple[list[str], list[float]]]) -> list[int]:
    """Run the script for each (keys, args) in order, in one round trip. (By its digest: a
    pipeline of registered scripts would ask Redis whether it has them first, every time.)"""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    now = f"{clock.now().timestamp():.6f}"
    for attempt in range(2):
        pipe = _client.pipeline(transaction=False)
        for keys, args in buckets:
            names = [f"{settings.NAMESPACE}:limits:{key}" for key in keys]
            pipe.evalsha(_sha, len(names), *names, *args, now)
        try:
            return [int(taken) for taken in pipe.execute()]
        except redis.exceptions.NoScriptError:
            if attempt:
                raise
            # A Redis that restarted or was flushed: load the script, then run them again
            # (a refused script ran nowhere, so nothing is counted twice).
            _client.script_load(_TAKE)
    raise AssertionError("unreachable")


def throughput(number: PhoneNumber) -> int:
    """Messages per second the number may send (its level's, from PARLEY settings)."""
    high = number.throughput_level == PhoneNumber.Throughput.HIGH
    return int(settings.PARLEY["THROUGHPUT_HIGH" if high else "THROUGHPUT_STANDARD"])


def take_send(number: PhoneNumber, customer: str) -> None:
    """Count one send of `number` to `customer`, or refuse it (nothing counted)."""
    refused = take_sends([(number, customer)])[0]
    if refused is not None:
        raise refused


def _upgrading(number: PhoneNumber) -> MessagingError | None:
    upgrading = number.throughput_upgrading_until
    if upgrading is None or clock.now() >= upgrading:
        return None
    return MessagingError(
        131057,
        "Account in maintenance mode",
        "The number's throughput is being upgraded: sends resume at "
        f"{upgrading:%Y-%m-%d %H:%M:%S} UTC.",
    )


def take_sends(sends: list[tuple[PhoneNumber, str]]) -> list[MessagingError | None]:
    """`take_send` for many sends in order, counted in one round trip: each one's refusal,
    or None where it was counted."""
    every = float(settings.PARLEY["PAIR_RATE_SECONDS"])
    burst = int(settings.PARLEY["PAIR_RATE_BURST"])
    answers: list[MessagingError | None] = [_upgrading(number) for number, _ in sends]
    counted = [i for i, refused in enumerate(answers) if refused is None]
    taken = _take(
        [
            (
                [f"throughput:{number.pk}", f"pair:{number.pk}:{customer}"],
                [throughput(number), throughput(number), burst, 1 / every],
            )
            for number, customer in (sends[i] for i in counted)
        ]
    )
    for i, result in zip(counted, taken, strict=True):
        rate = throughput(sends[i][0])
        if result == 0:
            answers[i] = MessagingError(
                130429,
                "Rate limit hit",
                "Message failed to send because there were too many messages sent from this "
                f"phone number in a short period of time (its throughput is {rate} messages a "
                "second).",
                http_status=429,
            )
        elif result < 0:
            answers[i] = MessagingError(
                131056,
                "(Business Account, Consumer Account) pair rate limit hit",
                "Too many messages sent from the sender phone number to the same recipient "
                f"phone number in a short period of time (about one every {every:g} s, in "
                f"bursts of up to {burst}).",
                http_status=429,
            )
    return answers
