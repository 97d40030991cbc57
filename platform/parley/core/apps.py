from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "parley.core"
    label = "core"

    def ready(self) -> None:
        # Consumers register themselves on import; the console fan-out is one of them.
        from parley.core import realtime  # noqa: F401

        for module in settings.PARLEY.get("STREAM_CONSUMER_MODULES", []):
            import_module(module)

        # Live processes read the installation's simulation clock (see parley.core.clock).
        from parley.core import clock

        if settings.PARLEY["SHARED_CLOCK"] and not isinstance(clock.current(), clock.SharedClock):
            clock.install(clock.SharedClock())
