from django.apps import AppConfig


class HandsetsConfig(AppConfig):
    name = "e2ee.handsets"
    label = "handsets"
    verbose_name = "Handset fleet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from e2ee.handsets import history
        from e2ee.store import use_handset_history

        # A phone's own chat history is this app's (the phone's, not the business's),
        # installed as the e2ee store's port so that app never imports this one.
        use_handset_history(history)
