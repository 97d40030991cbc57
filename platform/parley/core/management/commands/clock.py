"""`manage.py clock show|advance DURATION|set INSTANT|reset`: the installation's simulation
clock. Moving it runs what became due on a worker, or here when no worker answers."""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings

from parley.core.clock_actions import (
    CatchUp,
    ClockMove,
    do_advance_clock,
    do_reset_clock,
    do_set_clock,
    parse_duration,
    parse_instant,
)
from parley.core.clock_selectors import describe_offset, get_clock
from parley.core.errors import ParleyError
from parley.core.management.base import ParleyCommand


def _argument(parse: Any) -> Any:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ParleyError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    return convert


def _worker_answers() -> bool:
    from parley.celery import app

    try:
        timeout = settings.PARLEY["HEALTH_TIMEOUT_SECONDS"]
        return bool(app.control.ping(timeout=timeout, limit=1))
    except Exception:  # Redis away: no worker can be reached either
        return False


class Command(ParleyCommand):
    help = (
        "Show or move the installation's simulation clock. It only moves forward; "
        "`reset` returns it to real time."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("show", help="the simulated and real time")
        advance = sub.add_parser("advance", help="move forward by a duration (90s, 25h, 31d, 1d2h)")
        advance.add_argument("duration", type=_argument(parse_duration))
        set_ = sub.add_parser("set", help="jump forward to an instant (2026-12-01T09:00Z)")
        set_.add_argument("instant", type=_argument(parse_instant))
        sub.add_parser("reset", help="follow real time again")
        for p in (advance, set_):
            p.add_argument(
                "--inline",
                action="store_true",
                help="run the jobs that became due in this process, not on a worker",
            )

    def handle(self, *args: Any, verb: str, **options: Any) -> None:
        if verb == "show":
            self._show()
            return
        catch_up: CatchUp = "inline" if options.get("inline") else "queue"
        if verb == "reset":
            move = do_reset_clock(actor_label="manage.py clock")
        else:
            if catch_up == "queue" and not _worker_answers():
                catch_up = "inline"
            if verb == "advance":
                move = do_advance_clock(
                    options["duration"], actor_label="manage.py clock", catch_up=catch_up
                )
            else:
                move = do_set_clock(
                    options["instant"], actor_label="manage.py clock", catch_up=catch_up
                )
        self._report(move)

    def _show(self) -> None:
        view = get_clock()
        self.stdout.write(f"simulated  {view.simulated.isoformat(timespec='seconds')}")
        self.stdout.write(f"real       {view.real.isoformat(timespec='seconds')}")
        state = "frozen" if view.frozen else ("real time" if not view.differs else "running")
        self.stdout.write(f"offset     {describe_offset(view.offset)} ({state})")

    def _report(self, move: ClockMove) -> None:
        self.stdout.write(
            f"Clock {move.action}: {move.before.isoformat(timespec='seconds')} -> "
            f"{move.after.isoformat(timespec='seconds')}"
        )
        if move.catch_up == "queue":
            self.stdout.write("Due jobs queued for a worker.")
        elif move.catch_up == "inline":
            self.stdout.write("Due jobs ran in this process (no worker answered).")
