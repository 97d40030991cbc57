from typing import Any

from e2ee.actions import client_for, do_create_device
from e2ee.client.relay import DEFAULT_RELAY_URL
from e2ee.management.base import DeviceCommand


class Command(DeviceCommand):
    help = (
        "Simulated customer handsets: create, send, inbox, history, safety-number, backup, "
        "restore, lock, unlock, list (e.g. `handset send +919876543210 +14155552671 hello`)."
    )

    def add_verbs(self, sub: Any) -> None:
        lock = sub.add_parser("lock", help="turn Registration Lock on (PIN of 4-20 digits)")
        lock.add_argument("number")
        lock.add_argument("pin")
        unlock = sub.add_parser("unlock", help="turn Registration Lock off")
        unlock.add_argument("number")

    # -- subcommands ---------------------------------------------------------------------

    def do_create(self, options: dict[str, Any]) -> None:
        # One step, as on a phone: the client asks for a code, reads the SMS the simulated
        # carrier delivers to the number, submits it and registers.
        device = do_create_device(options["number"], replace=bool(options.get("reinstall")))
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
