from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "parley.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from e2ee.store import use_business_history

        # `listeners` holds the nudge that wakes a number's endpoint when the relay queues
        # for it; `history` is where a business number's plaintext lives, installed as the
        # e2ee store's port so that app never imports this one.
        from parley.messaging import history, listeners  # noqa: F401

        use_business_history(history)
