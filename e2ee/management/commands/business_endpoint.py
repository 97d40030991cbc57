import mimetypes
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from e2ee import selectors
from e2ee.actions import client_for, do_see_identity_changes
from e2ee.management.base import DeviceCommand
from parley.accounts.models import PhoneNumber
from parley.messaging import endpoint
from parley.messaging import selectors as messaging
from parley.messaging.actions import do_enable_endpoint, do_mark_inbound_read, do_send_message
from parley.messaging.content import Content, Text
from parley.messaging.models import Message


class Command(DeviceCommand):
    help = (
        "A business number's Signal endpoint (its tenant-side sessions): register, send, "
        "inbox, history, safety-number, backup, restore, list. A registered endpoint runs in "
        "Parley's workers; these subcommands act on it at once."
    )
    business_number = True
    register_verb = "register"

    def number(self, e164: str) -> PhoneNumber:
        device = selectors.get_device(e164)
        if device.phone_number is None:
            raise CommandError(f"{device.e164} is not a business number on this platform")
        return device.phone_number

    # -- subcommands ---------------------------------------------------------------------

    def do_create(self, options: dict[str, Any]) -> None:
        if not options.get("reinstall"):
            found = self._provisioned(options["number"])
            if found is not None:
                # A registered number gets its endpoint from the workers (make run's demo
                # number too): registering again would only replace its keys.
                do_enable_endpoint(self.number(found.e164))
                self.stdout.write(
                    f"{found.e164} already has its endpoint (device {found.device_id}, "
                    f"registration id {found.registration_id}), served by the workers."
                )
                return
        super().do_create(options)
        do_enable_endpoint(self.number(options["number"]))

    def _provisioned(self, number: str, wait: float = 20.0) -> Any:
        """The number's registered endpoint device; one the workers are still registering
        is waited for a little."""
        from e2ee.models import LocalDevice

        deadline = time.monotonic() + wait
        while True:
            device = endpoint.business_device(number)
            pending = LocalDevice.objects.filter(e164=number, device_id=1).exists()
            if device is not None or not pending or time.monotonic() > deadline:
                return device
            time.sleep(0.2)

    def do_restore(self, options: dict[str, Any]) -> None:
        super().do_restore(options)
        do_enable_endpoint(self.number(options["number"]))

    def do_send(self, options: dict[str, Any]) -> None:
        number = self.number(options["sender"])
        content: Content
        if options.get("file"):
            path: Path = options["file"]
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            content = endpoint.store_media(
                path.read_bytes(), file_name=path.name, mime_type=mime, caption=options["text"]
            )
        elif options["text"]:
            content = Text(body=options["text"])
        else:
            raise CommandError("nothing to send: give a text or --file")
        message = do_send_message(number, options["recipient"], content)
        # Send it now, from here (a worker that picks it up too finds it sent).
        endpoint.deliver(message.pk, relay_url=options["relay"])
        message.refresh_from_db()
        if message.status == Message.Status.FAILED:
            raise CommandError(f"{message.wamid} failed: {message.error_title}")
        guids = ", ".join(e.guid for e in message.envelopes.all())
        self.stdout.write(
            f"sent to {message.conversation.customer} as {message.wamid} (envelope {guids})"
        )

    def do_inbox(self, options: dict[str, Any]) -> None:
        number = self.number(options["number"])
        deadline = time.monotonic() + float(options["watch"] or 0)
        shown: set[int] = set()
        while True:
            endpoint.pull(number.e164, relay_url=options["relay"], wait=30)
            self.show_unread(number, options, shown)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if not shown:
            self.stdout.write("  (nothing new)")

    def show_unread(self, number: PhoneNumber, options: dict[str, Any], shown: set[int]) -> None:
        """Print the customers' messages not read yet (each once per run)."""
        device = selectors.get_device(number.e164)
        client = client_for(device, options["relay"])
        for message in messaging.list_unread_inbound(number).exclude(pk__in=shown):
            shown.add(message.pk)
            customer = message.conversation.customer
            content = message.content
            if message.content_type == "media":
                self.stdout.write(
                    f"  {customer}: [file {content.get('file_name')}, "
                    f"{content.get('file_length')} bytes] {content.get('caption', '')}"
                )
                if options.get("save_media") and content.get("pointer"):
                    folder: Path = options["save_media"]
                    folder.mkdir(parents=True, exist_ok=True)
                    target = folder / Path(str(content["file_name"])).name
                    target.write_bytes(client.download({"pointer": content["pointer"]}))
                    self.stdout.write(f"    saved {target}")
            elif message.content_type == "unsupported":
                self.stdout.write(self.style.ERROR(f"  ✗ from {customer}: could not decrypt"))
            else:
                self.stdout.write(f"  {customer}: {message.preview}")
            if options["read"]:
                for envelope in message.envelopes.all():
                    client.mark_read(envelope.guid)
                do_mark_inbound_read(message.pk)
        for name in do_see_identity_changes(device):
            self.stdout.write(self.style.WARNING(f"  ! {name}'s security code changed"))
