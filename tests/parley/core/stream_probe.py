"""The names shared by the fault tests and their probe consumer (stream_probe_consumer)."""

from __future__ import annotations

from django.conf import settings

TABLE = "test_stream_probe"


def block_key() -> str:
    return f"{settings.NAMESPACE}:probe:block"


def blocked_key() -> str:
    return f"{settings.NAMESPACE}:probe:blocked"
