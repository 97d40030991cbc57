"""Moving the installation's simulation clock (the model: Stripe's test clocks).

The rule: simulated time only moves forward. `advance` adds a positive duration; `set`
jumps to an instant that is not earlier than the current simulated time; only `reset`
goes back, to real time (offset 0). Every move is audited, announced to every process
(parley.core.clock) and then runs the jobs that became due (parley.core.due): by default
one Celery task on the worker, which re-reads the clock first; `catch_up="inline"` runs them
in the calling process instead (the command does so when no worker answers)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import TYPE_CHECKING, Literal

from django.db import transaction

from parley.core import clock
from parley.core.errors import Conflict, InvalidParameter
from parley.core.models import SimulationClock

if TYPE_CHECKING:
    from parley.accounts.models import StaffUser

# Far enough for any simulation, near enough that no date arithmetic overflows.
MAX_OFFSET = dt.timedelta(days=3650)
_DURATION = re.compile(r"(?:([0-9]{1,5})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,7})m)?(?:([0-9]{1,9})s)?")
DURATION_HINT = "a duration such as 90s, 45m, 25h, 31d or 1d2h"
INSTANT_HINT = "an ISO 8601 time with a zone, such as 2026-12-01T09:00Z"

CatchUp = Literal["queue", "inline", "none"]


def parse_duration(text: str) -> dt.timedelta:
    """`90s`, `45m`, `25h`, `31d`, `1d2h30m`: a positive duration up to MAX_OFFSET."""
    match = _DURATION.fullmatch(text.strip()) if text.isascii() else None
    if not match or not any(match.groups()):
        raise InvalidParameter(f"{text[:40]!r} is not {DURATION_HINT}")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if days > MAX_OFFSET.days:
        raise InvalidParameter(f"{text[:40]!r} is longer than {MAX_OFFSET.days} days")
    value = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not value:
        raise InvalidParameter("the clock moves by a positive duration")
    if value > MAX_OFFSET:
        raise InvalidParameter(f"{text[:40]!r} is longer than {MAX_OFFSET.days} days")
    return value


def parse_instant(text: str) -> dt.datetime:
    try:
        if not text.isascii() or len(text) > 40:
            raise ValueError
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidParameter(f"{text[:40]!r} is not {INSTANT_HINT}") from None
    if value.tzinfo is None:
        raise InvalidParameter(f"{text[:40]!r} has no time zone: add Z or +HH:MM")
    return value.astimezone(dt.UTC)


@dataclasses.dataclass(frozen=True)
class ClockMove:
    action: str
    before: dt.datetime
    after: dt.datetime
    version: int
    catch_up: CatchUp


def _move(
    action: str,
    *,
    to: dt.datetime | None = None,
    by: dt.timedelta | None = None,
    actor: StaffUser | None,
    actor_label: str,
    business_id: int | None,
    ip_address: str | None,
    catch_up: CatchUp,
    detail: str = "",
) -> ClockMove:
    from parley.accounts.actions.audit import do_record_audit

    label = actor_label or (actor.email if actor else "system")
    actor_business = actor.business_id if actor else None
    with transaction.atomic():
        row, _ = SimulationClock.objects.select_for_update().get_or_create(pk=1)
        real = clock.real_now()
        before = row.frozen_at or real + dt.timedelta(microseconds=row.offset_us)
        target = before + by if by is not None else to
        if target is None:  # reset: back to real time
            row.offset_us, row.frozen_at, after = 0, None, real
        else:
            if target < before:
                raise Conflict(
                    f"The clock only moves forward: {target:%Y-%m-%dT%H:%M:%SZ} is before the "
                    f"simulated time {before:%Y-%m-%dT%H:%M:%SZ}. Reset it to go back to "
                    "real time."
                )
            if target - real > MAX_OFFSET:
                raise InvalidParameter(
                    f"The clock goes at most {MAX_OFFSET.days} days ahead of real time."
                )
            after = target
            if row.frozen_at is not None:
                row.frozen_at = target
            else:
                row.offset_us = (target - real) // dt.timedelta(microseconds=1)
        row.version += 1
        row.changed_at, row.changed_by = real, label[:200]
        row.save()
        details = {"from": before.isoformat(), "to": after.isoformat()}
        if detail:
            details["by"] = detail
        do_record_audit(
            f"clock.{action}",
            business_id=business_id if business_id is not None else actor_business,
            actor=actor,
            actor_label=label,
            target="simulation clock",
            details=details,
            ip_address=ip_address,
        )
        version = row.version
        transaction.on_commit(clock.announce_moved)
        if action != "reset" and catch_up == "queue":
            transaction.on_commit(lambda: _enqueue_catch_up(version))
    if action != "reset" and catch_up == "inline":
        from parley.core.due import run_due_jobs

        run_due_jobs()
    return ClockMove(action, before, after, version, catch_up if action != "reset" else "none")


def _enqueue_catch_up(version: int) -> None:
    from parley.core.tasks import catch_up_clock

    catch_up_clock.delay(version)


def do_advance_clock(
    by: dt.timedelta,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    business_id: int | None = None,
    ip_address: str | None = None,
    catch_up: CatchUp = "queue",
) -> ClockMove:
    if by <= dt.timedelta(0):
        raise InvalidParameter("the clock moves by a positive duration")
    if by > MAX_OFFSET:
        raise InvalidParameter(f"the clock moves by at most {MAX_OFFSET.days} days at a time")
    from parley.core.clock_selectors import describe_offset

    return _move(
        "advanced",
        by=by,
        actor=actor,
        actor_label=actor_label,
        business_id=business_id,
        ip_address=ip_address,
        catch_up=catch_up,
        detail=describe_offset(by),
    )


def do_set_clock(
    to: dt.datetime,
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    business_id: int | None = None,
    ip_address: str | None = None,
    catch_up: CatchUp = "queue",
) -> ClockMove:
    if to.tzinfo is None:
        raise InvalidParameter(INSTANT_HINT)
    return _move(
        "set",
        to=to,
        actor=actor,
        actor_label=actor_label,
        business_id=business_id,
        ip_address=ip_address,
        catch_up=catch_up,
    )


def do_reset_clock(
    *,
    actor: StaffUser | None = None,
    actor_label: str = "",
    business_id: int | None = None,
    ip_address: str | None = None,
) -> ClockMove:
    return _move(
        "reset",
        actor=actor,
        actor_label=actor_label,
        business_id=business_id,
        ip_address=ip_address,
        catch_up="none",
    )
