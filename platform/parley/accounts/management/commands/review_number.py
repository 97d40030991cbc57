from typing import Any

from django.core.management.base import CommandParser

from parley.accounts.actions.numbers import do_review_official_verification
from parley.core.management.base import ParleyCommand, object_id


class Command(ParleyCommand):
    help = "Decide a pending official-verification request (the platform operator's review)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number_id", type=object_id, help="the phone number id")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--approve", action="store_true")
        group.add_argument("--decline", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        number = do_review_official_verification(options["number_id"], approve=options["approve"])
        self.stdout.write(f"{number.e164}: official verification {number.official_verification}")
