import django.db.models.deletion
from django.db import migrations, models

# Each message carries its conversation's number: filled in for the messages already kept.
BACKFILL = (
    "UPDATE messaging_message SET number_id = (SELECT number_id FROM messaging_conversation"
    " WHERE messaging_conversation.id = messaging_message.conversation_id)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_customer_blocks"),
        ("messaging", "0007_customer_media"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="number",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.phonenumber",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
