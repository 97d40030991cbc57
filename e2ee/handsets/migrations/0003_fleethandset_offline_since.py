from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handsets", "0002_customers"),
    ]

    operations = [
        migrations.AddField(
            model_name="fleethandset",
            name="offline_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
