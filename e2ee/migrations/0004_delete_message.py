"""The e2ee app keeps key material and sessions only: its plaintext `Message` table goes.
Its rows were moved before this runs: a handset's into the handsets app's history
(handsets 0004), a business number's into messaging's conversations (messaging 0002). A row
still here was moved by neither; the migration refuses rather than drop it."""

from typing import Any

from django.db import migrations


def nothing_left(apps: Any, schema_editor: Any) -> None:
    left = apps.get_model("e2ee", "Message").objects.select_related("device")
    if left.exists():
        devices = sorted({f"{m.device.e164} ({m.device.owner})" for m in left[:20]})
        raise RuntimeError(
            f"{left.count()} message(s) of e2ee.Message were moved neither to the handsets' "
            f"history nor to messaging (devices: {', '.join(devices)}); refusing to drop them"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("e2ee", "0003_identity_change_announced"),
        ("handsets", "0004_handsetmessage"),
        ("messaging", "0002_fold_e2ee_business_history"),
    ]

    operations = [
        migrations.RunPython(nothing_left, migrations.RunPython.noop),
        migrations.DeleteModel(name="Message"),
    ]
