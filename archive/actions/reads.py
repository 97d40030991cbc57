"""Reading a record's content is itself a fact compliance keeps: who opened which record,
when and from where (an e-discovery trail), recorded before the bytes are read."""

from __future__ import annotations

from archive.models import ArchiveRecord
from archive.selectors import RecordView, view_record
from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import StaffUser


def do_read_record(
    record: ArchiveRecord,
    *,
    actor: StaffUser | None,
    via: str = "",
    ip_address: str | None = None,
) -> RecordView:
    do_record_audit(
        "archive.record_read",
        business_id=record.business_id,
        actor=actor,
        target=f"record {record.pk}",
        details={
            "record_id": record.record_id,
            "message_id": record.message_id,
            "customer": record.customer,
            **({"token": via} if via else {}),
        },
        ip_address=ip_address,
    )
    return view_record(record)
