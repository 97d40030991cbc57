"""Celery tasks of the accounts app: thin wrappers around actions."""

from __future__ import annotations

from celery import shared_task

from parley.accounts.actions.audit import do_purge_audit_log
from parley.accounts.actions.login import do_purge_login_failures
from parley.accounts.actions.numbers import do_deliver_code, do_expire_codes


@shared_task(name="parley.accounts.tasks.deliver_verification_code")
def deliver_verification_code(code_id: int) -> bool:
    return do_deliver_code(code_id)


@shared_task(name="parley.accounts.tasks.purge_audit_log")
def purge_audit_log() -> int:
    return do_purge_audit_log()


@shared_task(name="parley.accounts.tasks.expire_verification_codes")
def expire_verification_codes() -> int:
    return do_expire_codes()


@shared_task(name="parley.accounts.tasks.purge_login_failures")
def purge_login_failures() -> int:
    return do_purge_login_failures()
