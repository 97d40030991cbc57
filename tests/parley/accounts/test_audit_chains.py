"""One audit chain per business (and one for the installation): chains verify on their own,
a tampered entry is named with its chain, retention purges each chain, appends of two
businesses never wait on one row, and the migration splits an existing single chain."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction

from parley.accounts.actions.audit import (
    INSTALLATION_CHAIN,
    do_purge_audit_log,
    do_record_audit,
    verify_chain,
)
from parley.accounts.models import AuditChainHead, AuditEntry

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _append(business_id: int | None, n: int) -> list[AuditEntry]:
    return [
        do_record_audit("test.event", business_id=business_id, target=f"t{i}") for i in range(n)
    ]


def test_each_business_has_its_own_chain_and_head(frozen_clock: Any) -> None:
    a, b = 7001, 7002
    for _ in range(3):
        _append(a, 1)
        _append(b, 1)
    _append(None, 2)
    for chain, count in ((a, 3), (b, 3), (INSTALLATION_CHAIN, 2)):
        entries = list(AuditEntry.objects.filter(chain=chain).order_by("seq"))
        assert [e.seq for e in entries] == list(range(1, count + 1))
        assert entries[0].prev_hash == "0" * 64
        for prev, entry in zip(entries, entries[1:], strict=False):
            assert entry.prev_hash == prev.entry_hash
    # Three rows, one per chain: appends of a and b lock different rows.
    heads = {h.id: h.last_seq for h in AuditChainHead.objects.all()}
    assert heads == {a: 3, b: 3, INSTALLATION_CHAIN: 2}
    assert verify_chain(a).checked == 3 and verify_chain(b).ok
    report = verify_chain()
    assert report.ok and report.checked == 8


def test_tampering_is_named_in_its_chain_only(frozen_clock: Any) -> None:
    a, b = 7011, 7012
    _append(a, 4)
    victims = _append(b, 4)
    _raw(
        "UPDATE accounts_auditentry SET target = %s WHERE chain = %s AND seq = %s",
        ["forged", b, victims[2].seq],
    )
    assert verify_chain(a).ok
    broken = verify_chain(b)
    assert not broken.ok and broken.first_broken_seq == 3 and broken.chain == b
    assert broken.reason == "entry contents altered"
    everything = verify_chain()
    assert everything.chain == b and everything.first_broken_seq == 3
    with pytest.raises(CommandError, match=f"chain of business {b} BROKEN at entry #3"):
        call_command("verify_audit_chain")
    call_command("verify_audit_chain", "--business", str(a))
    with pytest.raises(CommandError, match="BROKEN at entry #3"):
        call_command("verify_audit_chain", "--business", str(b))


def test_moving_an_entry_to_another_chain_is_detected(frozen_clock: Any) -> None:
    a, b = 7021, 7022
    _append(a, 2)
    _append(b, 2)
    _raw("UPDATE accounts_auditentry SET chain = %s, seq = 3 WHERE chain = %s AND seq = 2", [b, a])
    assert verify_chain(a).reason == "chain head does not match"
    assert verify_chain(b).first_broken_seq == 3


def test_removing_a_chain_s_newest_entry_is_detected(frozen_clock: Any) -> None:
    _append(7031, 3)
    _raw("DELETE FROM accounts_auditentry WHERE chain = %s AND seq = 3", [7031])
    report = verify_chain(7031)
    assert not report.ok and report.reason == "chain head does not match"


def test_retention_purges_every_chain_and_keeps_each_verifiable(frozen_clock: Any) -> None:
    a, b = 7041, 7042
    _append(a, 3)
    _append(b, 2)
    _append(None, 1)
    frozen_clock.advance(days=200)
    recent_a = _append(a, 2)
    _append(b, 1)
    frozen_clock.advance(days=100)
    assert do_purge_audit_log(retention_days=180) == 6
    heads = {h.id: h for h in AuditChainHead.objects.all()}
    assert heads[a].purged_through_seq == 3 and heads[b].purged_through_seq == 2
    assert heads[INSTALLATION_CHAIN].purged_through_seq == 1
    assert verify_chain(a).checked == 2 and verify_chain(b).checked == 1
    assert verify_chain(None).ok
    _append(a, 1)
    assert verify_chain(a).ok
    _raw(
        "UPDATE accounts_auditentry SET target = %s WHERE chain = %s AND seq = %s",
        ["x", a, recent_a[0].seq],
    )
    assert verify_chain(a).first_broken_seq == recent_a[0].seq
    assert verify_chain(b).ok


def _append_with_timeout(business_id: int) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        do_record_audit("blocked.event", business_id=business_id)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs row locks and concurrent writers; SQLite serialises every writer",
)
def test_two_businesses_append_without_waiting_for_each_other() -> None:
    a, b = 7051, 7052
    _append(a, 1)
    _append(b, 1)
    holding, release = threading.Event(), threading.Event()

    def hold_a() -> None:
        try:
            with transaction.atomic():
                do_record_audit("slow.event", business_id=a)  # locks a's head until commit
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold_a)
    thread.start()
    try:
        assert holding.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            entry = do_record_audit("other.event", business_id=b)  # would time out on one row
        assert entry.chain == b and entry.seq == 2
        # While a's head is held, another append to a does wait (the lock is real).
        with pytest.raises(Exception, match="lock timeout"):
            _append_with_timeout(a)
    finally:
        release.set()
        thread.join()
    assert verify_chain(a).checked == 2 and verify_chain(b).checked == 2


@pytest.mark.django_db(transaction=True)
def test_migration_splits_the_single_chain_and_refuses_a_broken_one() -> None:
    import datetime as dt

    from django.db.migrations.executor import MigrationExecutor

    from parley.accounts.actions.audit import _entry_digest

    before, after = (
        ("accounts", "0002_login_hardening_and_token_scopes"),
        (
            "accounts",
            "0003_audit_chain_per_business",
        ),
    )

    def migrate(target: tuple[str, str]) -> Any:
        executor = MigrationExecutor(connection)
        executor.migrate([target])
        return MigrationExecutor(connection).loader.project_state([target]).apps

    def old_chain(apps: Any, tamper: bool = False) -> None:
        entry_model, head_model = (
            apps.get_model("accounts", m) for m in ("AuditEntry", "AuditChainHead")
        )
        prev, at = "0" * 64, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for seq, business in enumerate([1, 2, None, 1, 2, 1], start=1):
            fields: dict[str, Any] = {
                "seq": seq, "business_ref": business, "actor_ref": None, "actor_label": "x",
                "action": "old.event", "target": f"t{seq}", "details": {}, "ip_address": None,
                "created_at": at + dt.timedelta(minutes=seq),
            }  # fmt: skip
            digest = _entry_digest(prev_hash=prev, **fields)
            if tamper and seq == 4:
                fields["target"] = "forged"
            entry_model.objects.create(prev_hash=prev, entry_hash=digest, **fields)
            prev = digest
        head_model.objects.update_or_create(id=1, defaults={"last_seq": 6, "last_hash": prev})

    old = migrate(before)
    try:
        old_chain(old)
        migrate(after)
        assert {c: verify_chain(c).checked for c in (1, 2)} == {1: 3, 2: 2}
        assert verify_chain().ok and verify_chain().checked == 6
        seqs = AuditEntry.objects.filter(chain=1).order_by("seq").values_list("target", "seq")
        assert list(seqs) == [("t1", 1), ("t4", 2), ("t6", 3)]
        assert AuditEntry.objects.get(chain=INSTALLATION_CHAIN).seq == 1

        # Back to one chain, and forward again.
        migrate(before)
        migrate(after)
        assert verify_chain().ok and verify_chain().checked == 6

        # A tampered single chain is not re-hashed into clean ones.
        AuditEntry.objects.all()._raw_delete(AuditEntry.objects.db)
        AuditChainHead.objects.all().delete()
        old = migrate(before)
        old_chain(old, tamper=True)
        with pytest.raises(RuntimeError, match="broken at entry #4"):
            migrate(after)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_auditentry")
            cursor.execute("DELETE FROM accounts_auditchainhead")
        # Every app's latest migration again (later ones of accounts, and those that depend
        # on it, went back with `before`).
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
