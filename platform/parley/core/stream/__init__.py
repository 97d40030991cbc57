"""The durable event stream: an append-only log written in the publishing transaction (the
outbox), named consumers with saved positions, retries, dead letters and compaction.

    log         append an event, read entries, the safe upper bound of committed ids
    consumers   the registry: `@consumer(...)` and `@batch_consumer(...)`
    runner      moves each consumer through the log (called by Celery tasks)
    actions     re-drive dead letters, compaction
    selectors   positions, lag, dead letters, replay for the staff websocket
"""
