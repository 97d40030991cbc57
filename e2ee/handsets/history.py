"""A simulated handset's own message history, as its Signal client sees it, kept in this app.

The client library records what the phone sends and receives as `HistoryItem`s; for a
handset the e2ee store adapter hands them here (this module is the store's
:class:`e2ee.store.HandsetHistory` port, installed by this app's `ready()`), so the e2ee
app keeps key material and sessions only. Writes go through this app's actions, reads
through its selectors."""

from __future__ import annotations

from e2ee.client.state import HistoryItem
from e2ee.handsets import actions, selectors
from e2ee.models import LocalDevice


def add_item(device: LocalDevice, item: HistoryItem) -> None:
    actions.do_record_handset_message(device, item)


def apply_status(device: LocalDevice, guid: str, status: str) -> bool:
    return actions.do_apply_handset_receipt(device, guid, status)


def list_items(device: LocalDevice, peer: str | None = None) -> list[HistoryItem]:
    return selectors.list_handset_history(device, peer)
