from typing import Any

import pyotp
from django.core.management.base import CommandError, CommandParser

from parley.accounts.actions.login import get_latest_enrolment_secret
from parley.accounts.models import StaffUser
from parley.core import clock
from parley.core.crypto import decrypt_text
from parley.core.management.base import ParleyCommand


class Command(ParleyCommand):
    help = (
        "Print the current two-factor code of a staff account, for people trying Parley "
        "locally without an authenticator app. Anyone who can run this already holds the "
        "database and its key. For an account still setting up two-factor authentication, "
        "the code of the newest setup page opened."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        user = StaffUser.objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError("No such account.")
        if user.two_factor_enrolled:
            secret: str | None = decrypt_text(user.totp_secret_encrypted)
        else:
            secret = get_latest_enrolment_secret(user)
        if not secret:
            raise CommandError(
                "This account has no two-factor setup in progress: log in first, and run "
                "this while the setup page is open."
            )
        self.stdout.write(pyotp.TOTP(secret).at(clock.now()))
