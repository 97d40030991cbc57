import argparse
from typing import Any

from django.core.management.base import CommandError

from parley.accounts.actions.audit import verify_chain
from parley.core.management.base import ParleyCommand, object_id


class Command(ParleyCommand):
    help = (
        "Verify the audit log's hash chains (one per business, one for the installation); "
        "name the first broken entry if any."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--business", type=object_id, help="verify only this business's chain (its id)"
        )

    def handle(self, *args: Any, business: int | None = None, **options: Any) -> None:
        report = verify_chain(business)
        if not report.ok:
            raise CommandError(
                f"Audit chain of {report.chain_name} BROKEN at entry #{report.first_broken_seq}: "
                f"{report.reason} ({report.checked} entries verified before it)."
            )
        where = f"{report.chain_name}'s chain" if business is not None else "every chain"
        self.stdout.write(f"Audit chain intact: {report.checked} entries verified ({where}).")
