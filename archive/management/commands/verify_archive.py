"""`manage.py verify_archive`: check every archived file against its manifest, the
manifest chain and its signed digests; name every modified, truncated or missing file.
Exits 1 when anything is wrong."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from archive.actions.files import do_roll_files, do_sign_digests
from archive.actions.verify import do_verify_archive
from archive.models import ChainHead
from parley.accounts.models import Business


class Command(BaseCommand):
    help = "Verify the compliance archive: files, manifests, the chain and its digests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--business", type=int, help="one business's archive (its id)")
        parser.add_argument(
            "--close-open",
            action="store_true",
            help="close the open files first, so their records are checked too",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["close_open"]:
            do_roll_files(force=True)
            do_sign_digests()
        ids = (
            [options["business"]]
            if options["business"]
            else list(ChainHead.objects.values_list("business_id", flat=True))
        )
        if options["business"] and not Business.objects.filter(pk=options["business"]).exists():
            self.stderr.write(f"No business {options['business']}.")
            raise SystemExit(2)
        failed = False
        for business_id in ids:
            report = do_verify_archive(business_id)
            self.stdout.write(
                f"business {business_id}: {report.files_checked} files, "
                f"{report.records_checked} records: "
                + ("OK" if report.ok else f"{len(report.problems)} problems")
            )
            for p in report.problems:
                self.stdout.write(f"  {p['kind'].upper()} {p['file_name']}: {p['detail']}")
            failed = failed or not report.ok
        if not ids:
            self.stdout.write("The archive has no closed files yet.")
        if failed:
            raise SystemExit(1)
