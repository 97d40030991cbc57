"""The Celery application: the worker and beat run the project's tasks from here."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def tend_heap(**_: object) -> None:
    """Each pool process tends its own heap (parley.core.heap)."""
    from parley.core.heap import start_from_settings

    start_from_settings()
