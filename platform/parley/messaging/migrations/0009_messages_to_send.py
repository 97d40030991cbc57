import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    # Apart from 0008: PostgreSQL alters no table with the backfill's deferred checks pending.
    dependencies = [
        ("accounts", "0007_customer_blocks"),
        ("messaging", "0008_message_number"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="number",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.phonenumber",
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="conversation",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="messaging.conversation",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status", "accepted")),
                fields=["number", "id"],
                name="messaging_message_to_send",
            ),
        ),
    ]
