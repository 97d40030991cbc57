from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "parley.media"
    label = "media"
    verbose_name = "Media"
