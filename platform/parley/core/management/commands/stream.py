"""`manage.py stream status|dead CONSUMER|redrive CONSUMER [ID…]|discard CONSUMER [ID…]|run|
compact`: the event stream's consumers, their dead letters, and the runner and compaction the
workers run."""

from __future__ import annotations

import argparse
import json
from typing import Any

from parley.core.management.base import ParleyCommand, object_id
from parley.core.stream.actions import (
    do_compact_stream,
    do_discard_dead_letters,
    do_redrive_dead_letters,
)
from parley.core.stream.runner import run_consumers
from parley.core.stream.selectors import get_stream_status, list_dead_letters


class Command(ParleyCommand):
    help = "Inspect the event stream and re-drive dead letters."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("status", help="the log's size and each consumer's position and lag (JSON)")
        dead = sub.add_parser("dead", help="a consumer's dead letters")
        dead.add_argument("consumer")
        redrive = sub.add_parser("redrive", help="give dead letters a fresh set of attempts")
        redrive.add_argument("consumer")
        redrive.add_argument("entry_ids", nargs="*", type=object_id, metavar="ID")
        discard = sub.add_parser(
            "discard", help="give dead letters up, releasing the entries held behind them"
        )
        discard.add_argument("consumer")
        discard.add_argument("entry_ids", nargs="*", type=object_id, metavar="ID")
        sub.add_parser("run", help="run every consumer here until caught up")
        sub.add_parser("compact", help="delete entries every consumer passed, once old enough")

    def handle(self, *args: Any, **options: Any) -> None:
        verb = options["verb"]
        if verb == "status":
            self.stdout.write(json.dumps(get_stream_status().as_dict(), indent=2))
        elif verb == "dead":
            for p in list_dead_letters(options["consumer"], limit=1000):
                self.stdout.write(f"#{p.entry_id}\t{p.attempts} attempts\t{p.last_error}")
        elif verb == "redrive":
            count = do_redrive_dead_letters(options["consumer"], options["entry_ids"] or None)
            self.stdout.write(f"{count} dead letter(s) of {options['consumer']} re-driven")
        elif verb == "discard":
            count = do_discard_dead_letters(options["consumer"], options["entry_ids"] or None)
            self.stdout.write(f"{count} dead letter(s) of {options['consumer']} discarded")
        elif verb == "run":
            done = run_consumers()
            self.stdout.write("caught up" if done else "time budget spent; more to do")
        else:
            self.stdout.write(f"{do_compact_stream()} entries compacted")
