from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0003_verification_sessions"),
    ]

    operations = [
        migrations.AddField(
            model_name="relayaccount",
            name="blocks_businesses",
            field=models.BooleanField(default=False),
        ),
    ]
