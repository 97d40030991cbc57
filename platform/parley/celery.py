"""The Celery application: the worker and beat run the project's tasks from here."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parley.settings")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def tend_heap(**_: object) -> None:
    """Each pool process tends its own heap (parley.core.heap)."""
    from parley.core.heap import start_from_settings

    start_from_settings()


@task_prerun.connect
@task_postrun.connect
def keep_database_connections(sender: Any = None, **_: object) -> None:
    """Around each task, the worker keeps its database connections as the web server keeps
    them between requests: up to CONN_MAX_AGE, closed when broken or left in a transaction.
    (Celery's own Django fixup closes them all around every task unless CELERY_DB_REUSE_MAX
    is set; a new PostgreSQL connection is a new server process, several milliseconds of
    CPU, and the workers run dozens of short tasks a second.) Eager tasks run in their
    caller's connection and are left alone."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
