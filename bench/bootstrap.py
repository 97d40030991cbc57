"""Django set-up shared by the benchmark scripts: Parley's source roots on the path, the
configured database (default: a fresh SQLite file, never the development database), and the
testing namespace so a benchmark never meets a running Parley's queues or cache keys."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")
    if "DATABASE_URL" not in os.environ:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    os.environ.setdefault("PARLEY_TESTING", "1")

    import django

    django.setup()
