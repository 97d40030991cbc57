"""A handset's own message history moves out of the e2ee app (which keeps key material and
sessions only) into this app: the table is created, every handset row of e2ee.Message is
copied into it in its order and then deleted there. Business numbers' rows are not this
app's: messaging's 0002 folds them into conversations (e2ee's 0004, which drops the old
table, runs after both). Backwards, the rows go back into e2ee.Message."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

FIELDS = (
    "direction",
    "peer",
    "peer_device_id",
    "guid",
    "kind",
    "body",
    "attachment",
    "status",
    "client_timestamp",
    "created_at",
    "updated_at",
)


def _move(source: Any, target: Any, rows: Any) -> None:
    batch: list[Any] = []
    for row in rows.order_by("created_at", "id").iterator(chunk_size=2000):
        batch.append(target(device_id=row.device_id, **{f: getattr(row, f) for f in FIELDS}))
        if len(batch) >= 2000:
            target.objects.bulk_create(batch)
            batch = []
    target.objects.bulk_create(batch)
    rows.delete()


def forward(apps: Any, schema_editor: Any) -> None:
    old = apps.get_model("e2ee", "Message")
    new = apps.get_model("handsets", "HandsetMessage")
    _move(old, new, old.objects.filter(device__owner="handset"))


def backward(apps: Any, schema_editor: Any) -> None:
    old = apps.get_model("e2ee", "Message")
    new = apps.get_model("handsets", "HandsetMessage")
    _move(new, old, new.objects.all())


class Migration(migrations.Migration):
    dependencies = [
        ("e2ee", "0003_identity_change_announced"),
        ("handsets", "0003_fleethandset_offline_since"),
    ]

    operations = [
        migrations.CreateModel(
            name="HandsetMessage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "direction",
                    models.CharField(choices=[("in", "In"), ("out", "Out")], max_length=3),
                ),
                ("peer", models.CharField(max_length=20)),
                ("peer_device_id", models.PositiveSmallIntegerField(default=1)),
                ("guid", models.CharField(blank=True, db_index=True, max_length=36)),
                ("kind", models.CharField(default="text", max_length=16)),
                ("body", models.TextField(blank=True)),
                ("attachment", models.JSONField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("sent", "Sent"),
                            ("delivered", "Delivered"),
                            ("read", "Read"),
                            ("expired", "Expired"),
                            ("received", "Received"),
                            ("failed", "Failed"),
                        ],
                        max_length=10,
                    ),
                ),
                ("client_timestamp", models.BigIntegerField(default=0)),
                ("created_at", models.DateTimeField()),
                ("updated_at", models.DateTimeField()),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="history",
                        to="e2ee.localdevice",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
