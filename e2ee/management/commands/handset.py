from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from e2ee import selectors
from e2ee.actions import client_for, do_create_device
from e2ee.client.relay import DEFAULT_RELAY_URL
from e2ee.handsets.actions import do_enlist_handset, do_set_handset_online, do_set_read_delay
from e2ee.handsets.control import FleetControl, FleetRefused, FleetUnavailable
from e2ee.handsets.faults import is_fault_number
from e2ee.handsets.selectors import get_fleet_handset
from e2ee.management.base import DeviceCommand, seconds
from parley.accounts.actions.numbers import parse_e164

# What goes through a running fleet (it holds the phones' connections); the rest reads
# the stores directly, which is safe beside it.
THROUGH_FLEET = ("create", "send", "inbox", "online", "offline", "read_delay")


class Command(DeviceCommand):
    help = (
        "Simulated customer handsets: create, send, inbox, online, offline, read-delay, history, "
        "safety-number, backup, restore, lock, unlock, list (e.g. `handset send +919876543210 "
        "+14155552671 hello`). With a handset fleet running (`manage.py handset_fleet`), create, "
        "send, inbox and on/offline go through it; without one the command does the work itself."
    )

    def add_verbs(self, sub: Any) -> None:
        lock = sub.add_parser("lock", help="turn Registration Lock on (PIN of 4-20 digits)")
        lock.add_argument("number")
        lock.add_argument("pin")
        unlock = sub.add_parser("unlock", help="turn Registration Lock off")
        unlock.add_argument("number")
        online = sub.add_parser("online", help="the fleet keeps this phone connected")
        online.add_argument("number")
        offline = sub.add_parser("offline", help="the phone drops its connection; mail queues")
        offline.add_argument("number")
        delay = sub.add_parser("read-delay", help="seconds until the user reads what arrives")
        delay.add_argument("number")
        delay.add_argument("seconds", nargs="?", type=seconds, help="omit: never reads by itself")

    def handle(self, *args: Any, **options: Any) -> None:
        action = str(options["action"]).replace("-", "_")
        if action in THROUGH_FLEET:
            control = FleetControl()
            health = self._fleet_health(control)
            if health is not None and options["relay"] in (None, health.get("relay")):
                try:
                    getattr(self, f"fleet_{action}")(control, options)
                except (FleetRefused, FleetUnavailable) as exc:
                    raise CommandError(str(exc)) from exc
                return
        super().handle(*args, **options)

    @staticmethod
    def _fleet_health(control: FleetControl) -> dict[str, Any] | None:
        try:
            return control.health() if control.available() else None
        except (FleetRefused, FleetUnavailable):
            return None

    # -- through the fleet -----------------------------------------------------------------

    def fleet_create(self, control: FleetControl, options: dict[str, Any]) -> None:
        result = control.create(
            options["number"], pin=options.get("pin") or None,
            reinstall=bool(options.get("reinstall")),
        )  # fmt: skip
        self.stdout.write(
            f"{result['number']} verified by SMS and registered with the fleet's relay as device "
            f"{result['device_id']} (registration id {result['registration_id']}); pre-keys "
            f"published; online in the handset fleet."
        )

    def fleet_send(self, control: FleetControl, options: dict[str, Any]) -> None:
        sender, recipient = options["sender"], options["recipient"]
        if options.get("file"):
            path: Path = options["file"]
            guids = control.send_file(sender, recipient, path.read_bytes(), file_name=path.name,
                                      caption=options["text"])  # fmt: skip
        else:
            if not options["text"]:
                raise CommandError("nothing to send: give a text or --file")
            guids = control.send_text(sender, recipient, options["text"])
        self.stdout.write(f"sent to {recipient} (envelope {', '.join(guids)})")

    def fleet_inbox(self, control: FleetControl, options: dict[str, Any]) -> None:
        items = control.inbox(options["number"], read=bool(options["read"]))
        if not items:
            self.stdout.write("  (nothing new)")
        for item in items:
            if item["kind"] == "receipt":
                self.stdout.write(f"  ✓ {item['receipt_kind']} receipt for {item['receipt_guid']}")
            elif item["kind"] == "media" and item.get("attachment"):
                name, size = (
                    item["attachment"].get("file_name"),
                    item["attachment"].get("file_length"),
                )
                self.stdout.write(f"  {item['sender']}: [file {name}, {size} bytes] {item['body']}")
            elif item["kind"] == "undecryptable":
                self.stdout.write(self.style.ERROR(f"  ✗ from {item['sender']}: undecryptable"))
            else:
                self.stdout.write(f"  {item['sender']}: {item['body']}")

    def fleet_online(self, control: FleetControl, options: dict[str, Any]) -> None:
        result = control.set_online(options["number"], True)
        state = "connected" if result.get("connected") else "connecting"
        self.stdout.write(f"{result['number']} is online ({state}).")

    def fleet_offline(self, control: FleetControl, options: dict[str, Any]) -> None:
        result = control.set_online(options["number"], False)
        self.stdout.write(f"{result['number']} is offline: messages queue at the relay.")

    def fleet_read_delay(self, control: FleetControl, options: dict[str, Any]) -> None:
        result = control.set_read_delay(options["number"], options["seconds"])
        self.stdout.write(self._delay_line(result["number"], result["read_delay_seconds"]))

    @staticmethod
    def _delay_line(number: str, delay: float | None) -> str:
        if delay is None:
            return f"{number} never reads messages by itself."
        return f"{number} reads what arrives {delay:g} s (simulated time) later."

    # -- without a fleet -------------------------------------------------------------------

    def do_create(self, options: dict[str, Any]) -> None:
        # One step, as on a phone: the client asks for a code, reads the SMS the simulated
        # carrier delivers to the number, submits it and registers.
        number = parse_e164(options["number"])[0]
        if is_fault_number(number):
            raise CommandError(f"{number} is a fault number: the fleet runs it (or never does).")
        device = do_create_device(number, replace=bool(options.get("reinstall")))
        client = client_for(device, options["relay"] or DEFAULT_RELAY_URL)
        result = client.register(registration_lock_pin=options.get("pin") or None)
        self.stdout.write(
            f"{device.e164} verified by SMS and registered with {client.relay.base_url} as device "
            f"{result['device_id']} (registration id {device.registration_id}); "
            f"pre-keys published (signed, ML-KEM-1024 incl. last resort, one-time)."
        )

    def do_lock(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        client.set_registration_lock(str(options["pin"]))
        self.stdout.write(
            f"Registration Lock on for {client.e164}: re-registering it now needs the PIN."
        )

    def do_unlock(self, options: dict[str, Any]) -> None:
        client = self.client(options["number"], options)
        client.set_registration_lock(None)
        self.stdout.write(f"Registration Lock off for {client.e164}.")

    def _set_online(self, number: str, online: bool) -> None:
        device = selectors.get_device(number)
        handset = get_fleet_handset(device.e164)
        if handset is None:
            do_enlist_handset(device, online=online)
        else:
            do_set_handset_online(handset, online)
        state = "online" if online else "offline"
        self.stdout.write(
            f"{device.e164} is {state} in the handset fleet's records (no fleet is running; "
            f"`manage.py handset_fleet` acts on it when it starts)."
        )

    def do_online(self, options: dict[str, Any]) -> None:
        self._set_online(options["number"], True)

    def do_offline(self, options: dict[str, Any]) -> None:
        self._set_online(options["number"], False)

    def do_read_delay(self, options: dict[str, Any]) -> None:
        device = selectors.get_device(options["number"])
        handset = get_fleet_handset(device.e164) or do_enlist_handset(device, online=False)
        do_set_read_delay(handset, options["seconds"])
        self.stdout.write(self._delay_line(device.e164, handset.read_delay_seconds))
