"""A stream consumer for fault tests, loaded only by a worker started with
PARLEY_STREAM_CONSUMER_MODULES=tests.parley.core.stream_probe_consumer.

For each event it inserts the stream id into `test_stream_probe` (created by the test), in
the batch's transaction; while the Redis key `<namespace>:probe:block` exists it then waits,
after saying so in `<namespace>:probe:blocked`: a batch is in flight, its rows uncommitted."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection

from parley.core.stream.consumers import Delivery, batch_consumer
from tests.parley.core.stream_probe import TABLE, block_key, blocked_key


@batch_consumer("probe", batch_size=50)
def record(items: list[Delivery]) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    with connection.cursor() as cursor:
        for item in items:
            cursor.execute(f"INSERT INTO {TABLE} (stream_id) VALUES (%s)", [item.stream_id])
            while client.exists(block_key()):
                client.set(blocked_key(), item.stream_id)
                time.sleep(0.05)
    client.close()
