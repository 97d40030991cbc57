from e2ee.management.base import DeviceCommand


class Command(DeviceCommand):
    help = (
        "Simulated customer handsets: create, send, inbox, history, safety-number, backup, "
        "restore, list (e.g. `handset send +919876543210 +14155552671 hello`)."
    )
