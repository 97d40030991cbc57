"""The client library over an in-memory state (unit use) still talks to the real relay."""

from __future__ import annotations

import pytest

from e2ee.client import ClientError, InMemoryDeviceState, InMemorySmsInbox, SignalClient
from e2ee.protocol import generate_identity_key_pair, generate_registration_id
from parley.relay.models import CarrierSms, Device
from tests.e2ee.conftest import new_handset_number

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.usefixtures("celery_worker")
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


def test_registration_needs_the_sms_texted_to_the_number(asgi_server: str) -> None:
    """A phone that does not receive the number's texts cannot register it: the client asks
    for a code, never sees it, and the relay has no device for the number."""
    number = new_handset_number()
    state = InMemoryDeviceState(
        generate_identity_key_pair(), generate_registration_id(), e164=number
    )
    elsewhere = SignalClient(state, relay_url=asgi_server, sms=InMemorySmsInbox(), sms_timeout=0)
    with pytest.raises(ClientError, match="no verification SMS reached"):
        elsewhere.register()
    assert state.get_credential() is None
    assert not Device.objects.filter(account__e164=number).exists()
    # The code did go to the number, through the simulated carrier.
    assert CarrierSms.objects.filter(e164=number).count() == 1
