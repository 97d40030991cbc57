"""`manage.py simulate_contact_centre`: a contact centre of simulated agents and customers on
the simulation clock, through routing's real actions and consumer (routing.simulation);
prints the service level and writes report.json, three charts and index.html."""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from parley.core.management.base import ParleyCommand
from routing.simulation import (
    STRATEGY_CHOICES,
    Config,
    parse_capacity,
    parse_languages,
    run_simulation,
    summary_lines,
    write_outputs,
)

BAR_WIDTH = 30


class ProgressBar:
    """A one-line text bar on a terminal (redrawn at most 10 times a second); elsewhere a
    line every 10 %."""

    def __init__(
        self, write: Callable[[str], None], flush: Callable[[], None], *, tty: bool
    ) -> None:
        self.write = write
        self.flush = flush
        self.tty = tty
        self.started = time.monotonic()
        self.drawn = 0.0
        self.decile = -1

    def __call__(self, fraction: float, text: str) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if self.tty:
            if now - self.drawn < 0.1 and fraction < 1.0:
                return
            self.drawn = now
            filled = round(BAR_WIDTH * fraction)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.write(f"\r[{bar}] {fraction * 100:5.1f}% {text} · {elapsed:.0f} s  ")
        else:
            decile = int(fraction * 10)
            if decile <= self.decile:
                return
            self.decile = decile
            self.write(f"{decile * 10:3d}% {text} · {elapsed:.0f} s\n")
        self.flush()

    def close(self) -> None:
        if self.tty:
            self.write("\n")
            self.flush()


def _positive_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


class Command(ParleyCommand):
    help = (
        "Simulate a contact centre on the simulation clock (in this process, through "
        "routing's actions and stream consumer) and report the first-response distribution "
        "and utilisation. Its sweeps act on every business: use a development or scratch "
        "database with no routing workers running."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        d = Config()
        parser.add_argument("--agents", type=_positive_int, default=d.agents)
        parser.add_argument("--conversations", type=_positive_int, default=d.conversations)
        parser.add_argument("--hours", type=float, default=d.hours, help="simulated span")
        parser.add_argument("--seed", type=_positive_int, help="default: a random seed")
        parser.add_argument("--capacity", default="15", help="15, or a range such as 10-15")
        parser.add_argument("--skills", type=_positive_int, default=d.skills,
                            help="skill queues (0 to 8)")  # fmt: skip
        parser.add_argument(
            "--languages", default="en,hi",
            help="en,hi (85 %% write in the first) or shares: en:70,hi:20,es:10",
        )  # fmt: skip
        parser.add_argument("--strategy", choices=STRATEGY_CHOICES, default=d.strategy)
        parser.add_argument("--out", type=Path, help="default: var/contact-centre/<timestamp>")
        parser.add_argument(
            "--business", default="",
            help="an existing business's slug (default: a throwaway simulation business)",
        )  # fmt: skip
        parser.add_argument(
            "--force", action="store_true",
            help="run although agents of other businesses are at work",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        seed = options["seed"]
        if seed is None:
            seed = secrets.randbelow(2**31)
        config = Config(
            agents=options["agents"],
            conversations=options["conversations"],
            hours=options["hours"],
            seed=seed,
            capacity=parse_capacity(options["capacity"]),
            skills=options["skills"],
            languages=parse_languages(options["languages"]),
            strategy=options["strategy"],
            business=options["business"],
            force=options["force"],
        )
        config.check()
        out: Path = options["out"] or (
            Path(settings.VAR_DIR)
            / "contact-centre"
            / dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        )
        bar = ProgressBar(
            lambda text: self.stderr.write(text, ending=""), self.stderr.flush,
            tty=self.stderr.isatty(),
        )  # fmt: skip
        try:
            result = run_simulation(config, progress=bar)
        finally:
            bar.close()
        paths = write_outputs(result, out)
        for line in summary_lines(result):
            self.stdout.write(line)
        self.stdout.write(f"Wrote {', '.join(p.name for p in paths)} in {out}")
