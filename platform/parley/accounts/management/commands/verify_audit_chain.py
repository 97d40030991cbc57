from typing import Any

from django.core.management.base import CommandError

from parley.accounts.actions.audit import verify_chain
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
    help = "Verify the audit log's hash chain; name the first broken entry if any."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit chain BROKEN at entry #{report.first_broken_seq}: {report.reason} "
                f"({report.checked} entries verified before it)."
            )
        self.stdout.write(f"Audit chain intact: {report.checked} entries verified.")
