"""The archive's background work: beat rolls files, signs the chain's digests and purges
expired files (every move of the simulation clock runs it at once, through
PARLEY["CLOCK_DUE_TASKS"]); exports run as jobs of their own."""

from __future__ import annotations

from celery import shared_task

from archive.actions.exports import do_run_export
from archive.actions.files import do_roll_files, do_sign_digests
from archive.actions.retention import do_purge_expired


@shared_task(name="archive.tasks.maintain")
def maintain() -> dict[str, int]:
    closed = do_roll_files()
    signed = do_sign_digests()
    purged = do_purge_expired()
    return {"closed": closed, "signed": signed, "purged": purged}


@shared_task(name="archive.tasks.run_export")
def run_export(job_id: int) -> str:
    job = do_run_export(job_id)
    return job.state if job else "missing"
