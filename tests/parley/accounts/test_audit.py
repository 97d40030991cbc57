"""The audit log: append-only, hash-chained, verifiable after tampering and after purges."""

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from parley.accounts.actions.audit import do_purge_audit_log, do_record_audit, verify_chain
from parley.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db


def _fill(n: int, business_id: int = 1) -> list[AuditEntry]:
    return [
        do_record_audit("test.event", business_id=business_id, target=f"t{i}", details={"i": i})
        for i in range(n)
    ]


def test_entries_chain_to_each_other(frozen_clock) -> None:
    entries = _fill(5)
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.entry_hash
        assert entry.seq == prev.seq + 1
    report = verify_chain()
    assert report.ok and report.checked == 5


def test_the_orm_refuses_to_edit_or_delete(frozen_clock) -> None:
    entry = _fill(1)[0]
    entry.target = "changed"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(target="x")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()


def _raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_editing_an_entry_is_detected_at_that_entry(frozen_clock) -> None:
    entries = _fill(6)
    _raw("UPDATE accounts_auditentry SET target = %s WHERE seq = %s", ["forged", entries[3].seq])
    report = verify_chain()
    assert not report.ok
    assert report.first_broken_seq == entries[3].seq
    assert report.reason == "entry contents altered"


def test_rehashing_an_edited_entry_breaks_the_next_link(frozen_clock) -> None:
    from parley.accounts.actions.audit import digest_of

    entries = _fill(4)
    forged = AuditEntry.objects.get(seq=entries[1].seq)
    forged.details = {"i": 999}
    _raw(
        "UPDATE accounts_auditentry SET details = %s, entry_hash = %s WHERE seq = %s",
        ['{"i": 999}', digest_of(forged), forged.seq],
    )
    report = verify_chain()
    assert report.first_broken_seq == entries[2].seq
    assert report.reason == "link to previous entry broken"


def test_deleting_an_entry_is_detected(frozen_clock) -> None:
    entries = _fill(5)
    _raw("DELETE FROM accounts_auditentry WHERE seq = %s", [entries[2].seq])
    report = verify_chain()
    assert not report.ok
    assert report.first_broken_seq == entries[2].seq
    assert report.reason == "entry missing"


def test_command_names_the_first_broken_entry(frozen_clock) -> None:
    entries = _fill(3)
    call_command("verify_audit_chain")
    _raw("UPDATE accounts_auditentry SET action = %s WHERE seq = %s", ["x", entries[1].seq])
    with pytest.raises(CommandError, match=f"entry #{entries[1].seq}"):
        call_command("verify_audit_chain")


def test_purge_keeps_the_retention_period_and_the_chain(frozen_clock) -> None:
    old = _fill(4)
    frozen_clock.advance(days=200)
    recent = _fill(3)
    frozen_clock.advance(days=100)  # old entries are now 300 days old, recent ones 100
    assert do_purge_audit_log(retention_days=180) == 4
    assert not AuditEntry.objects.filter(seq__in=[e.seq for e in old]).exists()
    assert AuditEntry.objects.filter(seq__in=[e.seq for e in recent]).count() == 3
    report = verify_chain()
    assert report.ok and report.checked == 3
    _fill(1)
    assert verify_chain().ok
    # Tampering after a purge is still caught.
    _raw("UPDATE accounts_auditentry SET target = %s WHERE seq = %s", ["x", recent[0].seq])
    assert verify_chain().first_broken_seq == recent[0].seq


def test_retention_is_bounded_to_90_days_to_a_year(frozen_clock) -> None:
    for days in (89, 366):
        with pytest.raises(ValueError, match="between 90 and 365"):
            do_purge_audit_log(retention_days=days)


def test_default_retention_is_one_year(frozen_clock, settings) -> None:
    assert settings.PARLEY["AUDIT_RETENTION_DAYS"] == 365
    _fill(2)
    frozen_clock.advance(days=364)
    assert do_purge_audit_log() == 0
    frozen_clock.advance(days=2)
    assert do_purge_audit_log() == 2


def test_settings_refuse_retention_outside_the_range() -> None:
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={"PARLEY_AUDIT_RETENTION_DAYS": "30", "DJANGO_SETTINGS_MODULE": "parley.settings",
             "PYTHONPATH": f"{root / 'platform'}:{root}", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "between 90 and 365" in result.stderr


def test_audit_times_are_the_clock_s(frozen_clock) -> None:
    entry = _fill(1)[0]
    assert entry.created_at == frozen_clock.now()
    assert entry.created_at.tzinfo is not None
    assert frozen_clock.now() - entry.created_at == dt.timedelta(0)
