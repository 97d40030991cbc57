import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import Business, PhoneNumber
from parley.core.management.base import ParleyCommand
from parley.messaging.actions import do_send_message
from parley.messaging.content import Content, Text


class Command(ParleyCommand):
    help = (
        'Send a business message: `send_message demo +14155552671 +919876543210 "hello"` '
        "(or --file for a document). Prints its wamid; a worker encrypts and sends it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("business", help="business slug")
        parser.add_argument("sender", help="the business number (E.164)")
        parser.add_argument("customer", help="the customer's number (E.164)")
        parser.add_argument("text", nargs="?", default="", help="the text (a caption with --file)")
        parser.add_argument("--file", type=Path, help="send this file as encrypted media")

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with slug {options['business']!r}.")
        sender, _ = parse_e164(options["sender"])
        number = PhoneNumber.objects.filter(business=business, e164=sender).first()
        if number is None:
            raise CommandError(f"{sender} is not a number of {business.slug}.")
        content: Content
        if options["file"]:
            from parley.messaging.endpoint import store_media

            path: Path = options["file"]
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            content = store_media(
                path.read_bytes(), file_name=path.name, mime_type=mime, caption=options["text"]
            )
        elif options["text"]:
            content = Text(body=options["text"])
        else:
            raise CommandError("nothing to send: give a text or --file")
        message = do_send_message(number, options["customer"], content)
        self.stdout.write(message.wamid)
