"""The archive consumes the durable stream: every message, its status changes, routing's
session changes and legal holds become WARC records. It reads from its saved position, so
nothing is skipped while the archiver is down, and record ids derive from the facts, so a
batch delivered again writes nothing twice."""

from __future__ import annotations

from parley.core.events import (
    LegalHoldChanged,
    MessageReceived,
    MessageStatusChanged,
    SessionRouted,
)
from parley.core.stream.consumers import Delivery, batch_consumer


@batch_consumer(
    "archive",
    events=(MessageReceived, MessageStatusChanged, SessionRouted, LegalHoldChanged),
    batch_size=1000,
)
def archive_events(items: list[Delivery]) -> None:
    from archive.actions.capture import do_capture
    from archive.actions.files import do_close_file
    from parley.core import clock

    now = clock.now()
    for file_id in do_capture([item.event for item in items], now=now):
        do_close_file(file_id, now=now)
