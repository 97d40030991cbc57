from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # The `routing` stream consumer registers on import.
        from routing import listeners  # noqa: F401
