from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "parley.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # The nudge that wakes a business number's endpoint when the relay queues for it.
        from parley.messaging import listeners  # noqa: F401
