"""The base of every `manage.py` command of Parley: bad input ends in one line on stderr
(Django prints a CommandError as `CommandError: …`) and a non-zero exit status, never a
traceback. `--traceback` still shows the cause."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from parley.core.errors import ParleyError

# Ids are positive 64-bit integers in every table.
MAX_ID = 2**63 - 1
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def describe_os_error(exc: OSError) -> str:
    """`missing.pdf: No such file or directory` rather than `[Errno 2] …`."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def object_id(text: str) -> int:
    """An argparse type: an id as the API and console show it."""
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id (a positive whole number)")
    return int(text)


def day(text: str) -> dt.date:
    """An argparse type: a calendar day written YYYY-MM-DD."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day written YYYY-MM-DD") from None
    if value == dt.date.max:  # a day's reports end at the next midnight
        raise argparse.ArgumentTypeError(f"{text!r} is beyond the last day Parley can report")
    return value


class ParleyCommand(BaseCommand):
    """Turns the errors a user can cause into a CommandError with a plain message."""

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except ParleyError as exc:
            raise CommandError(exc.message) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"the file is not UTF-8 text (byte {exc.start})") from exc
        except OSError as exc:
            raise CommandError(describe_os_error(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError("interrupted", returncode=130) from None
