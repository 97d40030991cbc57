from django.apps import AppConfig


class HandsetsConfig(AppConfig):
    name = "e2ee.handsets"
    label = "handsets"
    verbose_name = "Handset fleet"
    default_auto_field = "django.db.models.BigAutoField"
