from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from billing.actions import do_ingest_facts
from billing.facts_io import read_facts
from parley.accounts.models import Business
from parley.core.errors import ParleyError


class Command(BaseCommand):
    help = "Load message facts (JSON Lines) for a business and rate them. All or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("business", help="business slug")
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with slug {options['business']!r}.")
        try:
            with options["path"].open(encoding="utf-8") as handle, transaction.atomic():
                stats = do_ingest_facts(business, read_facts(handle, business.pk))
        except OSError as exc:
            raise CommandError(str(exc)) from exc
        except ParleyError as exc:
            raise CommandError(f"Nothing loaded: {exc.message}") from exc
        self.stdout.write(
            f"{stats.facts} facts recorded; {stats.delivered} delivered, {stats.pending} pending, "
            f"{stats.expired} expired (never billed); {stats.events} billable events."
        )
