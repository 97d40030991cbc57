"""Time rules: billing periods, the 24-hour windows and finalisation after two days.

Nothing here reads the wall clock; callers pass ``now``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# A reply within this long of the message it answers opens a conversation, which then lasts
# this long.
WINDOW = timedelta(hours=24)
# Conversational results may change until every message of the conversation is in.
FINALISATION_DELAY = timedelta(days=2)

_PERIOD = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])", re.ASCII)


class PeriodStatus(StrEnum):
    """Where a billing period stands at a moment.

    ``open``: the month is not over, events are still being delivered into it.
    ``provisional``: the month is over, but its last day's conversations may still change
    (within the 2-day finalisation) or some of its events are not final yet.
    ``final``: the month ended more than 2 days ago and every event of it is final.
    """

    OPEN = "open"
    PROVISIONAL = "provisional"
    FINAL = "final"


def period_of(moment: datetime) -> str:
    """The billing period (calendar month in UTC) a delivery falls in, as ``YYYY-MM``."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def is_period(text: str) -> bool:
    """Whether ``text`` is a ``YYYY-MM`` period (ASCII digits, year 0001 or later)."""
    return bool(_PERIOD.fullmatch(text)) and text[:4] != "0000"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of a ``YYYY-MM`` period in UTC (December 9999 ends at ``datetime.max``:
    the year 10000 cannot be represented)."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    if year == 9999 and month == 12:
        return start, datetime.max.replace(tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def period_final_from(period: str) -> datetime:
    """The earliest moment a period can be final: its last day, then the 2-day finalisation."""
    _, end = period_bounds(period)
    if end > datetime.max.replace(tzinfo=UTC) - FINALISATION_DELAY:
        return datetime.max.replace(tzinfo=UTC)
    return end + FINALISATION_DELAY


def period_status(period: str, now: datetime, *, events_pending: bool) -> PeriodStatus:
    """The status of ``period`` at ``now``; ``events_pending``: some event of the period is
    not final yet at ``now``."""
    _, end = period_bounds(period)
    if now < end:
        return PeriodStatus.OPEN
    if now < period_final_from(period) or events_pending:
        return PeriodStatus.PROVISIONAL
    return PeriodStatus.FINAL
