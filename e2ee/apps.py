from django.apps import AppConfig


class E2eeConfig(AppConfig):
    name = "e2ee"
    label = "e2ee"
    verbose_name = "End-to-end encryption (client side)"
    default_auto_field = "django.db.models.BigAutoField"
