from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "parley.core"
    label = "core"

    def ready(self) -> None:
        # Listeners register themselves on import; the realtime fan-out is one of them.
        from parley.core import realtime  # noqa: F401
