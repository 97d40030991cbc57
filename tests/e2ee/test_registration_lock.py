"""Registration Lock from the client's side: the library and `manage.py handset`, against
the real relay (uvicorn subprocess, real database, real Redis)."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from e2ee.actions import client_for, do_create_device
from e2ee.client import RelayError, SignalClient
from parley.relay.models import Device as RelayDevice
from parley.relay.models import Envelope
from tests.e2ee.conftest import new_handset_number

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_locked_number_reinstalls_only_with_its_pin(
    asgi_server: str, make_handset: Callable[..., SignalClient]
) -> None:
    alice, bob = make_handset(), make_handset()
    assert bob.set_registration_lock("2468") is True
    alice.send_text(bob.e164, "still mine?")
    device = RelayDevice.objects.get(account__e164=bob.e164, device_id=1)
    queued = set(Envelope.objects.filter(recipient=device).values_list("guid", flat=True))
    assert len(queued) == 1

    thief = client_for(do_create_device(bob.e164, replace=True), asgi_server)
    with pytest.raises(RelayError) as refused:
        thief.register()
    assert refused.value.status == 423
    assert "Registration Lock" in refused.value.message
    with pytest.raises(RelayError) as wrong:
        thief.register(registration_lock_pin="1357")
    assert wrong.value.status == 423

    # The relay kept the owner's identity, credential and queued mail (this test's local
    # store already holds the thief's device for the number, so look at the relay's rows).
    kept = RelayDevice.objects.get(pk=device.pk)
    assert bytes(kept.identity_key) == bytes(device.identity_key)
    assert kept.credential_digest == device.credential_digest
    assert set(Envelope.objects.filter(recipient=device).values_list("guid", flat=True)) == queued

    owner = client_for(do_create_device(bob.e164, replace=True), asgi_server)
    result = owner.register(registration_lock_pin="2468")
    assert result["identity_changed"] is True
    assert owner.set_registration_lock(None) is False
    again = client_for(do_create_device(bob.e164, replace=True), asgi_server)
    assert again.register()["identity_changed"] is True


@pytest.mark.usefixtures("celery_worker")
def test_handset_command_lock_unlock_and_pin(asgi_server: str) -> None:
    number = new_handset_number()
    out = StringIO()
    call_command("handset", "--relay", asgi_server, "create", number, stdout=out)
    call_command("handset", "--relay", asgi_server, "lock", number, "80512", stdout=out)
    assert "Registration Lock on" in out.getvalue()
    with pytest.raises(CommandError, match="Registration Lock"):
        call_command("handset", "--relay", asgi_server, "create", number, "--reinstall")
    call_command(
        "handset", "--relay", asgi_server, "create", number, "--reinstall", "--pin", "80512",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().count("registered with") == 2
    call_command("handset", "--relay", asgi_server, "unlock", number, stdout=out)
    assert "Registration Lock off" in out.getvalue()
    call_command("handset", "--relay", asgi_server, "create", number, "--reinstall", stdout=out)
    assert out.getvalue().count("registered with") == 3
