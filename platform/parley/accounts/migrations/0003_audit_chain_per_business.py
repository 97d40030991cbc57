"""One audit chain per business (and one for entries of no business) instead of one chain for
the whole installation, so appends of different businesses never wait on one row.

The existing chain is verified first; a broken chain stops the migration (re-hashing it would
hide the tampering: run `manage.py verify_audit_chain` on the previous version to see where).
Its entries are then split by business, renumbered from 1 in each chain and re-linked in
their original order; each chain starts from the genesis hash at its oldest kept entry."""

import hashlib
import json
from collections import defaultdict
from typing import Any

from django.db import migrations, models

GENESIS = "0" * 64


def _digest(prev_hash: str, entry: Any, seq: int) -> str:
    # This migration's own copy of the entry digest (parley.accounts.actions.audit).
    body = json.dumps(
        {
            "seq": seq,
            "business": entry.business_ref,
            "actor": entry.actor_ref,
            "actor_label": entry.actor_label,
            "action": entry.action,
            "target": entry.target,
            "details": entry.details,
            "ip": entry.ip_address,
            "at": entry.created_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def split_chain(apps: Any, schema_editor: Any) -> None:
    import datetime as dt

    Entry = apps.get_model("accounts", "AuditEntry")
    Head = apps.get_model("accounts", "AuditChainHead")
    old_head = Head.objects.filter(id=1).first()
    prev = old_head.purged_through_hash if old_head else GENESIS
    expected = (old_head.purged_through_seq if old_head else 0) + 1
    entries = list(Entry.objects.order_by("seq"))
    for entry in entries:
        entry.created_at = entry.created_at.astimezone(dt.UTC)
        if entry.seq != expected or entry.prev_hash != prev:
            raise RuntimeError(f"audit chain broken at entry #{expected}: not migrating it")
        if _digest(prev, entry, entry.seq) != entry.entry_hash:
            raise RuntimeError(f"audit chain broken at entry #{entry.seq}: not migrating it")
        prev, expected = entry.entry_hash, entry.seq + 1
    if old_head and entries and old_head.last_hash != prev:
        raise RuntimeError("audit chain head does not match its last entry: not migrating it")

    Head.objects.all().delete()
    last: dict[int, tuple[int, str]] = defaultdict(lambda: (0, GENESIS))
    for entry in entries:
        chain = entry.business_ref if entry.business_ref is not None else 0
        seq, prev_hash = last[chain]
        seq += 1
        entry_hash = _digest(prev_hash, entry, seq)
        Entry.objects.filter(pk=entry.pk).update(
            chain=chain, seq=seq, prev_hash=prev_hash, entry_hash=entry_hash
        )
        last[chain] = (seq, entry_hash)
    Head.objects.bulk_create(
        [Head(id=chain, last_seq=seq, last_hash=h) for chain, (seq, h) in last.items()]
    )


def join_chains(apps: Any, schema_editor: Any) -> None:
    """Back to one chain, in the order the entries were written."""
    Entry = apps.get_model("accounts", "AuditEntry")
    Head = apps.get_model("accounts", "AuditChainHead")
    prev, seq = GENESIS, 0
    for entry in Entry.objects.order_by("created_at", "id"):
        seq += 1
        entry_hash = _digest(prev, entry, seq)
        Entry.objects.filter(pk=entry.pk).update(
            chain=0, seq=-seq, prev_hash=prev, entry_hash=entry_hash
        )
        prev = entry_hash
    Entry.objects.update(seq=-models.F("seq"))
    Head.objects.all().delete()
    Head.objects.create(id=1, last_seq=seq, last_hash=prev)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_login_hardening_and_token_scopes"),
    ]

    operations = [
        migrations.AlterModelOptions(name="auditentry", options={"ordering": ["-id"]}),
        migrations.AddField(
            model_name="auditentry", name="chain", field=models.BigIntegerField(default=0)
        ),
        migrations.AlterField(
            model_name="auditchainhead",
            name="id",
            field=models.BigIntegerField(primary_key=True, serialize=False),
        ),
        migrations.AlterField(model_name="auditentry", name="seq", field=models.BigIntegerField()),
        migrations.RunPython(split_chain, join_chains),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="accounts_audit_chain_seq"
            ),
        ),
    ]
