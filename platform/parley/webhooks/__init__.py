"""Webhooks: business apps' subscriptions, Meta-shaped payloads, signing, durable delivery
with retries and replay.

    models      apps (callback, verify token, secrets, fields), deliveries and attempts
    payloads    stream events -> Meta's `whatsapp_business_account` envelope (pure)
    signing     X-Hub-Signature-256 and the Standard Webhooks headers (pure)
    listeners   the `webhooks` stream consumer: one delivery per event and subscribed app
    schedule    retry backoff, Retry-After and the circuit breaker (pure)
    worker      the asyncio delivery worker (aiohttp)
    actions     subscribe, rotate secrets, verify callbacks, replay, test events
    selectors   apps, the delivery log
"""
