"""Time rules: billing periods, the 24-hour windows and finalisation after two days.

Nothing here reads the wall clock; callers pass ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A reply within this long of the message it answers opens a conversation, which then lasts
# this long.
WINDOW = timedelta(hours=24)
# Conversational results may change until every message of the conversation is in.
FINALISATION_DELAY = timedelta(days=2)


def period_of(moment: datetime) -> str:
    """The billing period (calendar month in UTC) a delivery falls in, as ``YYYY-MM``."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of a ``YYYY-MM`` period in UTC."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end
