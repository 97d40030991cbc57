"""The client library over an in-memory state (unit use) still talks to the real relay."""

from __future__ import annotations

import pytest

from e2ee.client import InMemoryDeviceState, SignalClient
from e2ee.protocol import generate_identity_key_pair, generate_registration_id
from tests.e2ee.conftest import new_handset_number

pytestmark = pytest.mark.django_db(transaction=True)


def test_in_memory_handset_talks_to_a_database_backed_business(
    asgi_server: str, business_endpoint: SignalClient
) -> None:
    state = InMemoryDeviceState(
        generate_identity_key_pair(), generate_registration_id(), e164=new_handset_number()
    )
    phone = SignalClient(state, relay_url=asgi_server)
    phone.register()
    phone.send_text(business_endpoint.e164, "from memory")
    assert [r.body for r in business_endpoint.receive()] == ["from memory"]
    business_endpoint.send_text(phone.e164, "to memory")
    assert [r.body for r in phone.receive() if r.kind == "text"] == ["to memory"]
    assert state.get_health().decryptions == 1
    assert [m.status for m in state.list_messages() if m.direction == "out"] == ["delivered"]
