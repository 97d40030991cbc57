from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    label = "archive"
    verbose_name = "Archive"

    def ready(self) -> None:
        # The `archive` stream consumer registers on import.
        from archive import listeners  # noqa: F401
