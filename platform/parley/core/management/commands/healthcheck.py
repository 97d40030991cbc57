import json
from typing import Any

from django.core.management.base import CommandError

from parley.core.health import run_checks
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
    help = "Check the database, Redis and a Celery worker; exit 1 naming what is down."

    def handle(self, *args: Any, **options: Any) -> None:
        checks = run_checks()
        failing = [c.name for c in checks if not c.ok]
        self.stdout.write(
            json.dumps({"failing": failing, "checks": {c.name: c.detail for c in checks}})
        )
        if failing:
            raise CommandError(f"unavailable: {', '.join(failing)}")
