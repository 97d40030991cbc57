"""A store that is the one writer of its device (the handset fleet's phones): what committed
units of work read and wrote of sessions and peers' identities is read from memory by the
next ones, and forgotten by a unit that fails or that an enclosing transaction could still
roll back. The protocol behaves exactly as with the database alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from e2ee.actions import do_create_device
from e2ee.protocol import ProtocolAddress, decrypt, encrypt
from e2ee.store import DjangoDeviceState
from tests.e2ee.conftest import new_handset_number
from tests.e2ee.test_store_batching import peer, start

# Committed units: the store keeps nothing inside a test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def reads(queries: CaptureQueriesContext) -> set[str]:
    """The store tables a unit read."""
    return {
        table
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        for table in ("e2ee_session", "e2ee_peeridentity")
        if f'"{table}"' in q["sql"] or f"`{table}`" in q["sql"] or f" {table} " in q["sql"]
    }


def send(state: DjangoDeviceState, to: ProtocolAddress, text: str) -> tuple[Any, set[str]]:
    with CaptureQueriesContext(connection) as queries, state.atomic():
        # What a decrypt needs too: the session, and the peer's identity it checks.
        state.get_identity(to)
        message = encrypt(state, to, text.encode())
    return message, reads(queries)


def opened(state: DjangoDeviceState, device: Any, message: Any) -> bytes:
    me = ProtocolAddress(state.e164, state.device_id)
    return bytes(decrypt(device.store, me, message[0], message[1]))


def delivered(state: DjangoDeviceState, device: Any, text: str) -> set[str]:
    """Send `text` to the peer device, check it opens it; the store tables the unit read."""
    message, read = send(state, device.address, text)
    assert opened(state, device, message) == text.encode()
    return read


BOTH = {"e2ee_session", "e2ee_peeridentity"}


@pytest.fixture
def pair() -> tuple[DjangoDeviceState, DjangoDeviceState, Any]:
    """Two states of one new device, a sole writer and a plain one, with a session (made by
    the sole writer) to one peer device."""
    device = do_create_device(new_handset_number())
    sole = DjangoDeviceState(device, sole_writer=True)
    [other] = peer()
    assert start(sole, [other]) is False
    return sole, DjangoDeviceState(device), other


def test_later_units_read_sessions_and_identities_from_memory(pair: Any) -> None:
    sole, plain, other = pair
    assert delivered(sole, other, "one") == set()  # kept from the unit that made the session
    assert delivered(sole, other, "two") == set()
    # What is kept is what was committed: a plain store of the device reads the same
    # ratchet from the database and carries on from it.
    assert delivered(plain, other, "three") == BOTH


def test_a_failed_unit_forgets_and_the_next_reads_what_was_committed(pair: Any) -> None:
    sole, _, other = pair

    def step_then_fail() -> None:
        with sole.atomic():
            encrypt(sole, other.address, b"lost")  # a ratchet step that is rolled back
            raise Boom

    with pytest.raises(Boom):
        step_then_fail()
    assert delivered(sole, other, "after") == BOTH
    assert delivered(sole, other, "kept again") == set()


def test_a_unit_inside_a_transaction_keeps_nothing(pair: Any) -> None:
    sole, _, other = pair
    with transaction.atomic():
        inside, _ = send(sole, other.address, "inside")
    assert opened(sole, other, inside) == b"inside"
    assert delivered(sole, other, "after") == BOTH


def test_a_plain_store_always_reads_the_database(pair: Any) -> None:
    _, plain, other = pair
    assert delivered(plain, other, "one") == BOTH
    assert delivered(plain, other, "two") == BOTH
