"""`manage.py customer create|list|send|online|offline|read|inbox <business slug> …`: the
simulated customers of one business, driven through the running handset fleet on the same
actions as `/parley/v1/simulator/customers` and the console's Customers page."""

from __future__ import annotations

import argparse
import base64
import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from e2ee.handsets import customers
from parley.accounts.models import Business
from parley.core.management.base import ParleyCommand, describe_os_error


def _pair(text: str) -> tuple[str, str]:
    """An argparse type: `ID:TITLE`."""
    key, sep, value = text.partition(":")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not ID:TITLE")
    return key, value


def _point(text: str) -> tuple[float, float]:
    """An argparse type: `LAT,LNG`."""
    try:
        lat, lng = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LATITUDE,LONGITUDE") from None
    return lat, lng


class Command(ParleyCommand):
    help = (
        "Drive a business's simulated customers through the handset fleet: "
        "`customer create demo +919876543210`, `customer send demo +919876543210 "
        '+14155552671 "hi"`, `customer offline|online|read|inbox demo +919876543210`.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="command_action", required=True)

        create = sub.add_parser("create", help="a new customer's phone")
        create.add_argument("business", help="business slug")
        create.add_argument("customer", help="the customer's number (E.164)")
        create.add_argument("--language", default="en_US", help="e.g. en_US")
        create.add_argument("--offline", action="store_true", help="start offline")
        create.add_argument("--read-delay", type=float, default=None, metavar="SECONDS",
                            help="read what arrives after this many simulated seconds")  # fmt: skip

        listing = sub.add_parser("list", help="the business's customers")
        listing.add_argument("business", help="business slug")

        send = sub.add_parser("send", help="the customer sends to a business number")
        send.add_argument("business", help="business slug")
        send.add_argument("customer", help="the customer's number")
        send.add_argument("to", help="the business number to write to")
        send.add_argument("text", nargs="?", default="", help="a text (STOP / START too)")
        kind = send.add_mutually_exclusive_group()
        kind.add_argument("--button", type=_pair, metavar="ID:TITLE", help="tap a reply button")
        kind.add_argument("--list-row", type=_pair, metavar="ID:TITLE", help="pick a list row")
        kind.add_argument("--suggestion", type=_pair, metavar="POSTBACK:TEXT",
                          help="tap a suggested reply")  # fmt: skip
        kind.add_argument("--action", dest="action_postback", metavar="POSTBACK",
                          help="tap a suggested action")  # fmt: skip
        kind.add_argument("--location", type=_point, metavar="LAT,LNG", help="share a location")
        kind.add_argument("--react", metavar="WAMID", help="react to a message (emoji: text)")
        kind.add_argument("--file", type=Path, help="send a file (caption: text)")
        send.add_argument("--reply-to", metavar="WAMID", help="the text replies to this message")

        for name, what in (
            ("online", "take the phone online (its backlog arrives)"),
            ("offline", "take the phone offline"),
            ("read", "open the chats: read receipts for what arrived"),
            ("inbox", "what the phone shows"),
        ):
            one = sub.add_parser(name, help=what)
            one.add_argument("business", help="business slug")
            one.add_argument("customer", help="the customer's number")

    def handle(self, *args: Any, **options: Any) -> None:
        business = Business.objects.filter(slug=options["business"]).first()
        if business is None:
            raise CommandError(f"No business with slug {options['business']!r}.")
        action = options["command_action"]
        if action == "create":
            row = customers.do_create_customer(
                business,
                options["customer"],
                language=options["language"],
                online=not options["offline"],
                read_delay_seconds=options["read_delay"],
            )
            self._show(customers.customer_of(row))
        elif action == "list":
            for row in customers.list_customers(business):
                self._show(customers.customer_of(row))
        elif action == "send":
            message = self._message(options)
            guids = customers.do_send_as_customer(business, options["customer"], message)
            self.stdout.write(" ".join(guids))
        elif action in ("online", "offline"):
            row = customers.do_update_customer(
                business, options["customer"], online=action == "online"
            )
            self._show(customers.customer_of(row))
        elif action == "read":
            guids = customers.do_read_as_customer(business, options["customer"])
            self.stdout.write(f"{len(guids)} message(s) read")
        else:
            for item in customers.get_customer_inbox(business, options["customer"]):
                arrow = "←" if item["direction"] == "in" else "→"
                self.stdout.write(f"{arrow} {item['peer']} [{item['kind']}] {item['body']}")

    def _show(self, customer: customers.Customer) -> None:
        delay = customer.read_delay_seconds
        self.stdout.write(
            f"{customer.phone_number} {customer.country} {customer.language} "
            f"{'online' if customer.online else 'offline'}"
            + (f" reads after {delay:g}s" if delay is not None else "")
        )

    def _message(self, options: dict[str, Any]) -> dict[str, Any]:
        to, text = options["to"], options["text"]
        if options["button"] or options["list_row"]:
            kind = "button_reply" if options["button"] else "list_reply"
            tap_id, title = options["button"] or options["list_row"]
            return {"to": to, "type": kind, kind: {"id": tap_id, "title": title}}
        if options["suggestion"]:
            postback, chip = options["suggestion"]
            return {"to": to, "type": "suggested_reply",
                    "suggested_reply": {"postback": postback, "text": chip}}  # fmt: skip
        if options["action_postback"]:
            return {
                "to": to,
                "type": "action_tap",
                "action_tap": {"postback": options["action_postback"], "text": text},
            }
        if options["location"]:
            lat, lng = options["location"]
            return {"to": to, "type": "location",
                    "location": {"latitude": lat, "longitude": lng, "name": text}}  # fmt: skip
        if options["react"]:
            return {"to": to, "type": "reaction",
                    "reaction": {"message_id": options["react"], "emoji": text}}  # fmt: skip
        if options["file"]:
            path: Path = options["file"]
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(describe_os_error(exc)) from None
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return {"to": to, "type": "file", "file": {
                "data": base64.b64encode(data).decode(), "file_name": path.name,
                "mime_type": mime, "caption": text}}  # fmt: skip
        if not text:
            raise CommandError("Nothing to send: give a text or one of --button, --list-row, "
                               "--suggestion, --action, --location, --react, --file.")  # fmt: skip
        message: dict[str, Any] = {"to": to, "type": "text", "text": {"body": text}}
        if options["reply_to"]:
            message["context"] = {"message_id": options["reply_to"]}
        return message
