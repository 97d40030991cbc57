"""Failed logins counted per email address; one TOTP seed per enrolment attempt; API token
scopes.

Existing tokens get every scope their creator's role may give a token (the mapping below is
this migration's own copy of the matrix); a token whose creator no longer exists gets the
read-only scopes view_numbers and view_billing. Seeds of enrolments never confirmed are
dropped: the next login starts a fresh attempt."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TOKEN_SCOPES_BY_ROLE = {
    "administrator": [
        "view_numbers",
        "manage_numbers",
        "view_billing",
        "manage_billing",
        "manage_webhooks",
    ],
    "developer": ["view_numbers", "view_billing", "manage_webhooks", "read_conversations"],
    "supervisor": ["read_conversations"],
    "agent": ["read_conversations"],
    "compliance_officer": [],
}
WITHOUT_CREATOR = ["view_numbers", "view_billing"]


def scope_existing_tokens(apps: Any, schema_editor: Any) -> None:
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in ApiToken.objects.select_related("created_by").iterator():
        creator = token.created_by
        token.scopes = (
            TOKEN_SCOPES_BY_ROLE.get(creator.role, []) if creator is not None else WITHOUT_CREATOR
        )
        token.save(update_fields=["scopes"])


def drop_unconfirmed_seeds(apps: Any, schema_editor: Any) -> None:
    StaffUser = apps.get_model("accounts", "StaffUser")
    StaffUser.objects.filter(totp_confirmed_at=None).exclude(totp_secret_encrypted="").update(
        totp_secret_encrypted=""
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="LoginFailures",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address_hash", models.CharField(max_length=64, unique=True)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("first_failure_at", models.DateTimeField(blank=True, null=True)),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(db_index=True)),
            ],
        ),
        migrations.RemoveField(
            model_name="staffuser",
            name="failed_logins",
        ),
        migrations.RemoveField(
            model_name="staffuser",
            name="first_failure_at",
        ),
        migrations.RemoveField(
            model_name="staffuser",
            name="locked_until",
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=list, help_text="Capability names the token holds"),
        ),
        migrations.CreateModel(
            name="TwoFactorEnrolment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("attempt_hash", models.CharField(max_length=64, unique=True)),
                ("secret_encrypted", models.TextField()),
                ("created_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["user", "created_at"], name="accounts_tw_user_id_b3e5ef_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(scope_existing_tokens, migrations.RunPython.noop),
        migrations.RunPython(drop_unconfirmed_seeds, migrations.RunPython.noop),
    ]
