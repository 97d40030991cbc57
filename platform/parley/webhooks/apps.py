from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "parley.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The `webhooks` stream consumer registers on import.
        from parley.webhooks import listeners  # noqa: F401
