from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.actions import do_replace_rate_card
from parley.accounts.models import Business
from parley.core.errors import ParleyError


class Command(BaseCommand):
    help = (
        "Replace a business's rate card with a CSV file "
        "(country,item,currency,unit_price,effective_from)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("business", help="business slug")
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with slug {options['business']!r}.")
        try:
            rows = do_replace_rate_card(
                None, business, options["path"].read_text("utf-8"), actor_label="manage.py"
            )
        except (OSError, ParleyError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        self.stdout.write(f"Rate card of {business.name}: {rows} rows.")
