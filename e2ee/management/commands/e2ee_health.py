import json
from typing import Any

from django.core.management.base import CommandParser

from e2ee import selectors
from parley.core.management.base import ParleyCommand, object_id


class Command(ParleyCommand):
    help = "Key-agreement and decryption health (all devices, one business, or handsets)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--business", type=object_id, help="a business id")
        parser.add_argument("--handsets", action="store_true", help="simulated handsets only")

    def handle(self, *args: Any, **options: Any) -> None:
        report = selectors.get_health(business_id=options["business"], handsets=options["handsets"])
        self.stdout.write(json.dumps(report.as_dict(), indent=2))
