"""Free entry points, as the platform prices them: a customer who writes from an ad that
clicks to WhatsApp or a Page's call-to-action button (their message carries a `referral`)
and is answered within 24 hours opens a 72-hour window in which every message the business
sends is free, templates included. The customer-service window still decides what may be
sent free-form. Pure: times in, the window out (billing's engine applies the same rule to
its facts; a test holds the two together)."""

from __future__ import annotations

import datetime as dt

ANSWER_WITHIN = dt.timedelta(hours=24)
FREE_FOR = dt.timedelta(hours=72)


def free_window(
    entry_point_at: dt.datetime | None,
    opened_at: dt.datetime | None,
    expires_at: dt.datetime | None,
    at: dt.datetime,
) -> tuple[dt.datetime, dt.datetime] | None:
    """The free entry point window (opened, expires) a business message accepted at `at`
    falls in: the one already open, or one it opens by answering an entry point in time;
    None when it is priced as usual."""
    if opened_at is not None and expires_at is not None and opened_at <= at <= expires_at:
        return opened_at, expires_at
    if entry_point_at is not None and entry_point_at <= at <= entry_point_at + ANSWER_WITHIN:
        return at, at + FREE_FOR
    return None
