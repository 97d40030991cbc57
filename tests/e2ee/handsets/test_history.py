"""A handset's own message history: the handsets app's (`HandsetMessage`), reached by the e2ee
store through its port; the e2ee app keeps key material and sessions only."""

from __future__ import annotations

from typing import Any

import pytest

import e2ee.models
import e2ee.store
from e2ee.actions import client_for, do_create_device, do_restore_device
from e2ee.client import HistoryItem
from e2ee.handsets import history
from e2ee.handsets.actions import do_record_handset_message
from e2ee.handsets.models import HandsetMessage
from e2ee.protocol.backup import generate_recovery_key
from e2ee.store import DjangoDeviceState
from parley.core.errors import InvalidParameter
from tests.e2ee.conftest import Tenant

pytestmark = pytest.mark.django_db
SHOP, OTHER = "+14155550101", "+14155550102"


def item(n: int, direction: str = "out", peer: str = SHOP, **fields: object) -> HistoryItem:
    values: dict[str, object] = {
        "direction": direction, "peer": peer, "peer_device_id": 1,
        "guid": f"00000000-0000-4000-8000-{n:012d}", "kind": "text", "body": f"m{n}",
        "status": "sent" if direction == "out" else "received", "client_timestamp": 1000 + n,
    }  # fmt: skip
    return HistoryItem(**{**values, **fields})  # type: ignore[arg-type]


def test_the_store_keeps_a_handsets_history_in_the_handsets_app() -> None:
    state = DjangoDeviceState(do_create_device("+919876500010"))
    state.add_message(item(1))
    state.add_message(item(2, "in", body="hello", attachment={"id": "x"}))
    state.add_message(item(3, peer=OTHER))

    rows = HandsetMessage.objects.filter(device=state.device)
    assert [(m.direction, m.peer, m.body, m.status) for m in rows] == [
        ("out", SHOP, "m1", "sent"),
        ("in", SHOP, "hello", "received"),
        ("out", OTHER, "m3", "sent"),
    ]
    assert [m.body for m in state.list_messages(SHOP)] == ["m1", "hello"]
    assert state.list_messages()[1] == item(2, "in", body="hello", attachment={"id": "x"})

    # Receipts move an outgoing message forward, never back; unknown or incoming: False.
    guid = item(1).guid
    assert state.set_message_status(guid, "read") is True
    assert state.set_message_status(guid, "delivered") is True
    assert HandsetMessage.objects.get(guid=guid).status == "read"
    assert state.set_message_status(item(2).guid, "read") is False
    assert state.set_message_status("no-such-guid", "read") is False


def test_the_e2ee_app_holds_no_plaintext_model() -> None:
    assert not hasattr(e2ee.models, "Message")
    assert not hasattr(e2ee.store, "Message")
    assert e2ee.store._handset_history is history  # installed by the handsets app's ready()


def test_a_store_without_the_handset_port_refuses_instead_of_dropping_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = DjangoDeviceState(do_create_device("+919876500011"))
    monkeypatch.setattr(e2ee.store, "_handset_history", None)
    with pytest.raises(RuntimeError, match="no handset history is installed"):
        state.add_message(item(1))
    with pytest.raises(RuntimeError, match="no handset history is installed"):
        state.list_messages()
    with pytest.raises(RuntimeError, match="no handset history is installed"):
        state.set_message_status(item(1).guid, "read")
    assert not HandsetMessage.objects.exists()


def test_a_business_number_never_writes_a_handsets_history(tenant: Tenant) -> None:
    device = do_create_device(tenant.number.e164, business_number=True)
    with pytest.raises(InvalidParameter, match="not a handset"):
        do_record_handset_message(device, item(1))
    assert not HandsetMessage.objects.exists()


def test_a_backup_round_trips_a_handsets_history_onto_a_new_device() -> None:
    device = do_create_device("+919876500012")
    state = DjangoDeviceState(device)
    sent = [item(1), item(2, "in", body="hi there"), item(3, peer=OTHER, kind="media",
            body="invoice", attachment={"id": "ab", "file_name": "i.txt"})]  # fmt: skip
    for each in sent:
        state.add_message(each)
    state.set_message_status(item(1).guid, "delivered")
    key = generate_recovery_key()
    blob = client_for(device).export_backup(recovery_key=key)
    assert b"hi there" not in blob

    restored = do_restore_device(device.e164, blob, recovery_key=key)

    assert restored.pk != device.pk
    # The old phone's rows went with it; the new one holds the same history.
    assert set(HandsetMessage.objects.values_list("device", flat=True)) == {restored.pk}
    sent[0].status = "delivered"
    assert DjangoDeviceState(restored).list_messages() == sent


def test_a_phone_shows_typing_until_the_indicator_runs_out_or_the_answer_arrives(
    frozen_clock: Any,
) -> None:
    from e2ee.handsets.actions import do_enlist_handset, do_note_typing
    from e2ee.handsets.selectors import list_typing_peers

    device = do_create_device("+919876500011")
    phone = do_enlist_handset(device)
    state = DjangoDeviceState(device)
    start = frozen_clock.now()
    do_note_typing(phone.pk, SHOP, start)
    do_note_typing(phone.pk, OTHER, start)
    assert list_typing_peers([phone.pk]) == {phone.pk: [SHOP, OTHER]}

    frozen_clock.advance(seconds=5)
    state.add_message(item(7, "in", peer=OTHER))  # OTHER's answer arrived: no more typing
    assert list_typing_peers([phone.pk]) == {phone.pk: [SHOP]}
    frozen_clock.advance(seconds=20)  # 25 s after it came, the indicator runs out
    assert list_typing_peers([phone.pk]) == {}

    do_note_typing(phone.pk, SHOP, frozen_clock.now())  # a new one shows again
    assert list_typing_peers([phone.pk]) == {phone.pk: [SHOP]}
