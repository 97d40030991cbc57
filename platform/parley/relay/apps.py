from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "parley.relay"
    label = "relay"
    verbose_name = "Relay"

    def ready(self) -> None:
        # Listeners register themselves on import: the push to online devices is one.
        from parley.relay import realtime  # noqa: F401
