import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from parley.core.health import run_checks


class Command(BaseCommand):
    help = "Check the database, Redis and a Celery worker; exit 1 naming what is down."

    def handle(self, *args: Any, **options: Any) -> None:
        checks = run_checks()
        failing = [c.name for c in checks if not c.ok]
        self.stdout.write(
            json.dumps({"failing": failing, "checks": {c.name: c.detail for c in checks}})
        )
        if failing:
            raise CommandError(f"unavailable: {', '.join(failing)}")
