"""Retention presets and the arithmetic of retain-until dates (pure: no Django).

The regulations set minimum periods; firms choose presets of their own on top. MiFID II
Art. 16(7) keeps 5 years, extendable to 7 on a regulator's request; FINRA 4511 keeps 6
years where no other period applies; SEC 17a-4(b)(4) keeps communications 3 years."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Preset:
    key: str
    label: str
    years: int
    basis: str


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset("sec-17a-4", "SEC 17a-4(b)(4): 3 years", 3, "SEC Rule 17a-4(b)(4)"),
        Preset("mifid-ii", "MiFID II: 5 years", 5, "MiFID II Art. 16(7)"),
        Preset("mifid-ii-extended", "MiFID II extended: 7 years", 7, "MiFID II Art. 16(7)"),
        Preset("finra-4511", "FINRA 4511: 6 years", 6, "FINRA Rule 4511(b)"),
        Preset("firm-finra-7", "Firm preset: FINRA 7 years", 7, "firm policy"),
        Preset("firm-enterprise-6", "Firm preset: 6 years or more", 6, "enterprise edition"),
    )
}
CUSTOM = "custom"
DEFAULT_PRESET = "firm-finra-7"
MAX_YEARS = 100


def add_years(at: dt.datetime, years: int) -> dt.datetime:
    """The same calendar moment `years` later (29 February becomes 28 February)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


def retain_until(last_record_at: dt.datetime, *, years: int, days: int = 0) -> dt.datetime:
    """A file is kept until its newest record has been kept for the whole period, rounded
    up to a whole second (object stores keep retain-until dates in seconds)."""
    until = add_years(last_record_at, years) + dt.timedelta(days=days)
    if until.microsecond:
        until = until.replace(microsecond=0) + dt.timedelta(seconds=1)
    return until


def period_days(years: int, days: int = 0) -> int:
    """An approximate length in days, for grouping and display (dates use add_years)."""
    return years * 365 + years // 4 + days


def period_of(at: dt.datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"
