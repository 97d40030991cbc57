from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from billing.actions import do_replace_rate_card
from parley.accounts.models import Business
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
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
        path: Path = options["path"]
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text.") from exc
        rows = do_replace_rate_card(None, business, text, actor_label="manage.py")
        self.stdout.write(f"Rate card of {business.name}: {rows} rows.")
