"""The Celery workers keep their database connections from task to task, as the web server
keeps them from request to request (CONN_MAX_AGE), instead of opening a new one, a new
PostgreSQL server process, for every task."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]  # untyped
from celery.signals import task_postrun, task_prerun
from django.db import connection

from parley.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


class _Task:
    def __init__(self, eager: bool) -> None:
        self.request = SimpleNamespace(is_eager=eager)


def _run_task(eager: bool = False) -> None:
    """What the worker signals around a task (its body aside)."""
    task = _Task(eager)
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={}, retval=None)


def test_a_healthy_connection_outlives_a_task_while_its_age_allows() -> None:
    connection.ensure_connection()
    raw = connection.connection
    _run_task()
    if connection.settings_dict["CONN_MAX_AGE"]:
        assert connection.connection is raw
    else:  # SQLite: a connection per task, as a request has one
        assert connection.connection is None


def test_celerys_own_fixup_no_longer_closes_it_around_every_task() -> None:
    connection.ensure_connection()
    raw = connection.connection
    fixup = DjangoWorkerFixup(app)  # what the worker installs at start
    assert fixup.db_reuse_max
    for _ in range(10):  # before and after five tasks
        fixup.close_database()
    assert connection.connection is raw


def test_a_broken_connection_is_dropped_before_the_next_task() -> None:
    connection.ensure_connection()
    connection.connection.close()  # the server went away
    connection.errors_occurred = True  # as the failed query left it
    _run_task()
    assert connection.connection is None
    connection.ensure_connection()  # the next task connects anew


def test_an_eager_task_leaves_its_callers_connection_alone() -> None:
    connection.ensure_connection()
    raw = connection.connection
    connection.close_at = 0.0  # obsolete: a worker's task would close it
    _run_task(eager=True)
    assert connection.connection is raw
    connection.close_at = None
