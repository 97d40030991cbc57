from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    label = "billing"

    def ready(self) -> None:
        from billing import listeners  # noqa: F401  (registers the delivery listener)
