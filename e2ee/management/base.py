"""Shared body of `manage.py handset …` and `manage.py business_endpoint …`: thin
subcommands over `e2ee.actions` and the client library."""

from __future__ import annotations

import argparse
import math
import urllib.parse
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from e2ee import selectors
from e2ee.actions import (
    client_for,
    do_create_device,
    do_discard_unregistered_device,
    do_restore_device,
)
from e2ee.client import ClientError, Received, RelayError, SignalClient
from e2ee.client.relay import DEFAULT_RELAY_URL
from e2ee.protocol import ProtocolError
from e2ee.protocol.backup import format_recovery_key, generate_recovery_key
from parley.core.errors import Conflict
from parley.core.management.base import ParleyCommand

PIN_HELP = "the number's Registration Lock PIN (needed to re-register a locked number)"


def relay_url(text: str) -> str:
    """An argparse type: the relay's base URL."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def seconds(text: str) -> float:
    """An argparse type: a duration in seconds (0 or more)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


class DeviceCommand(ParleyCommand):
    business_number = False
    register_verb = "create"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--relay", type=relay_url, default=None, help=f"relay base URL ({DEFAULT_RELAY_URL})"
        )
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(self.register_verb, help="create the local device and register it")
        create.add_argument("number")
        create.add_argument("--reinstall", action="store_true", help="new identity (reinstall)")
        if self.business_number:
            create.add_argument("--token", help="Business API token (default: the demo token)")
        else:
            create.add_argument("--pin", help=PIN_HELP)
        send = sub.add_parser("send", help="send an encrypted text (or --file)")
        send.add_argument("sender")
        send.add_argument("recipient")
        send.add_argument("text", nargs="?", default="")
        send.add_argument("--file", type=Path, help="send this file as encrypted media")
        inbox = sub.add_parser("inbox", help="fetch, decrypt and ack queued messages")
        inbox.add_argument("number")
        inbox.add_argument("--watch", type=seconds, default=0, help="listen on the websocket N s")
        inbox.add_argument("--read", action="store_true", help="send read receipts")
        inbox.add_argument("--save-media", type=Path, help="directory for received files")
        history = sub.add_parser("history", help="this device's message history")
        history.add_argument("number")
        safety = sub.add_parser("safety-number", help="the 60-digit safety number + QR SVG")
        safety.add_argument("number")
        safety.add_argument("peer")
        safety.add_argument("--qr", type=Path, help="where to write the QR SVG")
        backup = sub.add_parser("backup", help="end-to-end encrypted backup (64-digit key)")
        backup.add_argument("number")
        backup.add_argument("--out", type=Path)
        restore = sub.add_parser("restore", help="restore a backup onto a new device")
        restore.add_argument("number")
        restore.add_argument("path", type=Path)
        restore.add_argument("--recovery-key", required=True)
        if not self.business_number:
            restore.add_argument("--pin", help=PIN_HELP)
        sub.add_parser("list", help="local devices")
        self.add_verbs(sub)

    def add_verbs(self, sub: Any) -> None:
        """Subcommands of one kind of device only."""

    def handle(self, *args: Any, **options: Any) -> None:
        action = str(options["action"]).replace("-", "_")
        if action == self.register_verb:
            action = "create"
        try:
            try:
                getattr(self, f"do_{action}")(options)
            except BaseException as exc:
                # No half-created device: after a failed registration, running the command
                # again must just work. (A Conflict means an existing device was left alone.)
                if action in ("create", "restore") and not isinstance(exc, Conflict):
                    do_discard_unregistered_device(str(options["number"]))
                raise
        except RelayError as exc:
            # Status 0: the relay was not reached; its message already says so.
            raise CommandError(exc.message if exc.status == 0 else str(exc)) from exc
        except (ClientError, ProtocolError) as exc:
            raise CommandError(str(exc)) from exc

    # -- helpers -------------------------------------------------------------------------

    def client(self, number: str, options: dict[str, Any]) -> SignalClient:
        return client_for(selectors.get_device(number), options["relay"])

    def token(self, options: dict[str, Any]) -> str | None:
        if options.get("token"):
            return str(options["token"])
        path = Path(settings.VAR_DIR) / "demo-api-token"
        if path.exists():
            return path.read_text().strip()
        raise CommandError("give --token (a Business API token; `manage.py seed_demo` makes one)")

    def show(self, item: Received) -> None:
        if item.kind == "receipt":
            self.stdout.write(f"  ✓ {item.receipt_kind} receipt for {item.receipt_guid}")
        elif item.kind == "undecryptable":
            self.stdout.write(self.style.ERROR(f"  ✗ from {item.sender}: {item.error}"))
        elif item.kind == "media" and item.attachment:
            name = item.attachment.get("file_name")
            size = item.attachment.get("file_length")
            self.stdout.write(f"  {item.sender}: [file {name}, {size} bytes] {item.body}")
        elif item.kind == "text":
            self.stdout.write(f"  {item.sender}: {item.body}")
        if item.identity_changed:
            self.stdout.write(self.style.WARNING(f"  ! {item.sender}'s security code changed"))

    # -- subcommands ---------------------------------------------------------------------

    def do_create(self, options: dict[str, Any]) -> None:
        device = do_create_device(
            options["number"], business_number=self.business_number,
            replace=bool(options.get("reinstall")),
        )  # fmt: skip
        client = client_for(device, options["relay"] or DEFAULT_RELAY_URL)
        if self.business_number:
            result = client.register(kind="business", token=self.token(options))
        else:
            result = client.register()
        self.stdout.write(
            f"{device.e164} registered with {client.relay.base_url} as device "
            f"{result['device_id']} (registration id {device.registration_id}); "
            f"pre-keys published (signed, ML-KEM-1024 incl. last resort, one-time)."
        )

    def do_send(self, options: dict[str, Any]) -> None:
        client = self.client(options["sender"], options)
        recipient = options["recipient"]
        if options.get("file"):
            path: Path = options["file"]
            guids = client.send_media(recipient, path.read_bytes(), file_name=path.name,
                                      caption=options["text"])  # fmt: skip
        else:
            if not options["text"]:
                raise CommandError("nothing to send: give a text or --file")
            guids = client.send_text(recipient, options["text"])
        self.stdout.write(f"sent to {recipient} (envelope {', '.join(guids)})")

    def do_inbox(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        if options["watch"]:
            items = client.listen(idle_timeout=options["watch"], max_seconds=options["watch"])
        else:
            items = client.receive()
        if not items:
            self.stdout.write("  (nothing new)")
        for item in items:
            self.show(item)
            if options["read"] and item.kind in ("text", "media"):
                client.mark_read(item)
            if options.get("save_media") and item.kind == "media" and item.attachment:
                folder: Path = options["save_media"]
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / Path(str(item.attachment["file_name"])).name
                target.write_bytes(client.download(item.attachment))
                self.stdout.write(f"    saved {target}")

    def do_history(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        for m in client.state.list_messages():
            arrow = "→" if m.direction == "out" else "←"
            self.stdout.write(f"  {arrow} {m.peer} [{m.status}] {m.kind}: {m.body}")
        for change in client.identity_changes():
            self.stdout.write(
                self.style.WARNING(f"  ! security code with {change.address.name} changed")
            )

    def do_safety_number(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        fingerprint = client.safety_number(options["peer"])
        self.stdout.write(fingerprint.formatted())
        path: Path = options["qr"] or Path(settings.VAR_DIR) / (
            f"safety-{client.e164.lstrip('+')}-{str(options['peer']).lstrip('+')}.svg"
        )
        path.write_bytes(fingerprint.qr_svg())
        self.stdout.write(f"QR code written to {path}")

    def do_backup(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        key = generate_recovery_key()
        blob = client.export_backup(recovery_key=key)
        path: Path = (
            options["out"] or Path(settings.VAR_DIR) / f"backup-{client.e164.lstrip('+')}.bin"
        )
        path.write_bytes(blob)
        self.stdout.write(f"backup written to {path} ({len(blob)} bytes)")
        self.stdout.write(f"recovery key (write it down): {format_recovery_key(key)}")

    def do_restore(self, options: dict[str, Any]) -> None:
        path: Path = options["path"]
        device = do_restore_device(
            options["number"], path.read_bytes(), recovery_key=options["recovery_key"],
            business_number=self.business_number,
        )  # fmt: skip
        client = client_for(device, options["relay"] or DEFAULT_RELAY_URL)
        if self.business_number:
            client.register(kind="business", token=self.token(options))
        else:
            client.register(registration_lock_pin=options.get("pin") or None)
        count = len(client.state.list_messages())
        self.stdout.write(f"{device.e164} restored ({count} messages) and re-registered.")

    def do_list(self, options: dict[str, Any]) -> None:
        owner = "business" if self.business_number else "handset"
        for device in selectors.list_devices(owner):
            self.stdout.write(f"  {device.e164}  {device.relay_url or '(not registered)'}")
