"""Business numbers' message history moves from the e2ee app's table into conversations and
messages (copied, then deleted there); handsets keep theirs in e2ee."""

from typing import Any

from django.db import migrations


def fold(apps: Any, schema_editor: Any) -> None:
    from parley.messaging.history import fold_e2ee_history

    models = (
        apps.get_model("messaging", "Conversation"),
        apps.get_model("messaging", "Message"),
        apps.get_model("messaging", "Envelope"),
    )
    fold_e2ee_history(apps.get_model("e2ee", "Message"), models)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("e2ee", "0001_initial"),
    ]

    operations = [migrations.RunPython(fold, migrations.RunPython.noop)]
