"""Reads of the installation's simulation clock, for the command, the API and the console."""

from __future__ import annotations

import dataclasses
import datetime as dt

from parley.core import clock

# Below this, simulated and real time are the same for people reading them.
SAME_TIME = dt.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class ClockView:
    simulated: dt.datetime
    real: dt.datetime
    frozen: bool
    version: int
    changed_at: dt.datetime | None
    changed_by: str

    @property
    def offset(self) -> dt.timedelta:
        return self.simulated - self.real

    @property
    def differs(self) -> bool:
        return abs(self.offset) >= SAME_TIME


def describe_offset(offset: dt.timedelta) -> str:
    """`+31d 2h 5m`, `-3h`, `0s`: the offset in the units people move the clock by."""
    sign = "-" if offset < dt.timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if v]
    return sign + " ".join(parts) if parts else "0s"


def get_clock() -> ClockView:
    """The stored shared clock, read from the database now (not this process's cache)."""
    state = clock.read_state()
    real = clock.real_now()
    return ClockView(
        simulated=state.at(real),
        real=real,
        frozen=state.frozen_at is not None,
        version=state.version,
        changed_at=state.changed_at,
        changed_by=state.changed_by,
    )


def get_process_clock() -> ClockView:
    """The clock as this process sees it (cached; no query), for the console's banner."""
    current = clock.current()
    real = clock.real_now()
    state = current.state() if isinstance(current, clock.SharedClock) else None
    return ClockView(
        simulated=current.now(),
        real=real,
        frozen=bool(state and state.frozen_at),
        version=state.version if state else 0,
        changed_at=state.changed_at if state else None,
        changed_by=state.changed_by if state else "",
    )
