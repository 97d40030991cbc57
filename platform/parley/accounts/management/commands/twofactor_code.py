from typing import Any

import pyotp
from django.core.management.base import BaseCommand, CommandError, CommandParser

from parley.accounts.models import StaffUser
from parley.core.crypto import decrypt_text


class Command(BaseCommand):
    help = (
        "Print the current two-factor code of a staff account, for people trying Parley "
        "locally without an authenticator app. Anyone who can run this already holds the "
        "database and its key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        user = StaffUser.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError("No such account.")
        if not user.totp_secret_encrypted:
            raise CommandError("This account has not started two-factor setup: log in first.")
        self.stdout.write(pyotp.TOTP(decrypt_text(user.totp_secret_encrypted)).now())
