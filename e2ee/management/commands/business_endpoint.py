from e2ee.management.base import DeviceCommand


class Command(DeviceCommand):
    help = (
        "A business number's Signal endpoint (its tenant-side sessions): register, send, "
        "inbox, history, safety-number, backup, restore, list."
    )
    business_number = True
    register_verb = "register"
