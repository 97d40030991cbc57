#!/usr/bin/env python
"""Django's command-line utility for Parley."""

import os
import sys
from pathlib import Path


def main() -> None:
    # platform/ is a source root, not a package: put it on the path so `parley` imports.
    root = Path(__file__).resolve().parent
    for entry in (root / "platform", root):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
