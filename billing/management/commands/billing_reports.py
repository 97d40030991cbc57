from typing import Any

from django.core.management.base import CommandError, CommandParser

from billing.reports import do_write_daily_reports
from parley.accounts.models import Business
from parley.core.management.base import ParleyCommand, day


class Command(ParleyCommand):
    help = "Write the daily billing-event and activity-log reports of one day (UTC)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("day", type=day, help="YYYY-MM-DD")
        parser.add_argument("--business", help="business slug (default: every business)")

    def handle(self, *args: Any, **options: Any) -> None:
        businesses = Business.objects.all()
        if options["business"]:
            businesses = businesses.filter(slug=options["business"])
            if not businesses.exists():
                raise CommandError(f"No business with slug {options['business']!r}.")
        for business in businesses:
            for report in do_write_daily_reports(business, options["day"]):
                self.stdout.write(f"{report.path}: {report.rows} rows")
