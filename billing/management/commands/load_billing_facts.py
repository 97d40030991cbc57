from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from billing.actions import do_ingest_facts
from billing.facts_io import read_facts
from parley.accounts.models import Business
from parley.core.errors import ParleyError
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
    help = "Load message facts (JSON Lines) for a business and rate them. All or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("business", help="business slug")
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with slug {options['business']!r}.")
        path: Path = options["path"]
        try:
            with path.open(encoding="utf-8") as handle, transaction.atomic():
                stats = do_ingest_facts(business, read_facts(handle, business.pk))
        except UnicodeDecodeError as exc:
            raise CommandError(f"Nothing loaded: {path} is not UTF-8 text.") from exc
        except ParleyError as exc:
            raise CommandError(f"Nothing loaded: {exc.message}") from exc
        self.stdout.write(
            f"{stats.facts} facts recorded; {stats.delivered} delivered, {stats.pending} pending, "
            f"{stats.expired} expired (never billed); {stats.events} billable events."
        )
