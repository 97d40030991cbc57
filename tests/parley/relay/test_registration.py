"""Device registration, re-registration with a new identity, linking, business numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.crypto import token_digest
from parley.core.events import EnvelopeExpired, IdentityChanged
from parley.relay.models import (
    DeliveryRecord,
    Device,
    Envelope,
    IdentityKeyRecord,
    KemPreKey,
    OneTimePreKey,
)
from tests.parley.relay.conftest import (
    IDENTITY,
    Handset,
    b64,
    ec_key,
    error,
    new_number,
    register,
    verified_session,
)

pytestmark = pytest.mark.django_db


def test_register_returns_a_credential_stored_only_hashed(client: Any, handset: Any) -> None:
    phone = handset()
    assert phone.registration["created"] is True
    password = phone.registration["password"]
    device = Device.objects.get(account__e164=phone.number, device_id=1)
    assert device.credential_digest == token_digest(password)
    assert password not in str(Device.objects.values().get(pk=device.pk))
    me = phone.call("get", "/relay/v1/accounts/me")
    assert me.status_code == 200
    assert me.json()["number"] == phone.number
    assert me.json()["devices"] == [1]
    # Bearer works as well as Basic; a wrong password does not.
    bearer = client.get("/relay/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {phone.credential}")
    assert bearer.status_code == 200
    wrong = phone.credential.rsplit(":", 1)[0] + ":" + "x" * 43
    denied = client.get("/relay/v1/accounts/me", HTTP_AUTHORIZATION=f"Bearer {wrong}")
    assert denied.status_code == 401
    assert error(denied)["code"] == 190
    assert error(client.get("/relay/v1/accounts/me"))["code"] == 190


def test_reregistering_with_a_new_identity_wipes_keys_and_mail_and_announces_it(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = handset(), handset()
    bob.publish_keys(ec=5, kem=5)
    assert alice.send(bob, b"\x01" * 40).status_code == 200
    old_identity = bytes(Device.objects.get(account__e164=bob.number).identity_key)

    with (
        clock.frozen(clock.now() + dt.timedelta(hours=1)) as later,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = register(bob.client, bob.number, identity=ec_key(), registration_id=77)
    assert response.status_code == 200
    assert response.json()["identity_changed"] is True
    device = Device.objects.get(account__e164=bob.number)
    assert bytes(device.identity_key) != old_identity
    assert device.registration_id == 77
    assert not OneTimePreKey.objects.filter(device=device).exists()
    assert not KemPreKey.objects.filter(device=device).exists()
    assert not Envelope.objects.filter(recipient=device).exists()
    changed = [e for e in events if isinstance(e, IdentityChanged)]
    assert [(e.e164, e.device_id) for e in changed] == [(bob.number, 1)]
    assert changed[0].business_id == 0
    # History keeps both keys; "changed since" answers from it.
    history = IdentityKeyRecord.objects.filter(account=device.account).order_by("registered_at")
    assert [bytes(h.identity_key) == old_identity for h in history] == [True, False]
    assert history[0].replaced_at == later.now()
    since = int((later.now() - dt.timedelta(minutes=5)).timestamp() * 1000)
    body = alice.call("get", f"/relay/v1/identity/{bob.number}?since={since}").json()
    assert [c["device_id"] for c in body["changes"]] == [1]
    after = int((later.now() + dt.timedelta(minutes=5)).timestamp() * 1000)
    body = alice.call("get", f"/relay/v1/identity/{bob.number}?since={after}").json()
    assert body["changes"] == []
    # The old credential is dead, the new one works.
    assert bob.call("get", "/relay/v1/accounts/me").status_code == 401


def test_a_reregistration_with_the_same_identity_is_still_a_new_device(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Same identity key (a restore, or someone replaying the published key): the queue is
    not handed over but dropped with an `expired` receipt to its sender, pre-keys are wiped
    and peers see a device change."""
    identity = IDENTITY.public_key.serialize()  # the key its pre-keys are signed with
    alice, bob = handset(), handset(identity=identity)
    bob.publish_keys(ec=3, kem=3)
    sent = alice.send(bob, b"\x02" * 40)
    assert sent.status_code == 200
    (guid,) = [m["guid"] for m in sent.json()["messages"]]
    with (
        clock.frozen(clock.now() + dt.timedelta(minutes=10)) as later,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = register(bob.client, bob.number, identity=identity)
    assert response.status_code == 200, response.content
    assert response.json()["identity_changed"] is False
    new_bob = Handset(bob.client, bob.number, response.json())
    assert new_bob.fetch() == []
    device = Device.objects.get(account__e164=bob.number)
    assert not Envelope.objects.filter(recipient=device).exists()
    assert not OneTimePreKey.objects.filter(device=device).exists()
    assert not KemPreKey.objects.filter(device=device).exists()
    # The sender is told, as when an envelope expires.
    receipts = [m for m in alice.fetch() if m["receipt"]]
    assert [(r["receipt"]["kind"], r["receipt"]["guid"]) for r in receipts] == [("expired", guid)]
    assert DeliveryRecord.objects.get(guid=guid).expired_at == later.now()
    assert [e.guid for e in events if isinstance(e, EnvelopeExpired)] == [guid]
    # Peers see the change: the event, and the identity history.
    changed = [e for e in events if isinstance(e, IdentityChanged)]
    assert [(e.e164, e.device_id) for e in changed] == [(bob.number, 1)]
    since = int((later.now() - dt.timedelta(minutes=1)).timestamp() * 1000)
    body = alice.call("get", f"/relay/v1/identity/{bob.number}?since={since}").json()
    assert [(c["device_id"], c["identity_key"]) for c in body["changes"]] == [(1, b64(identity))]
    assert body["devices"][0]["registered_at"] == int(later.now().timestamp() * 1000)
    # The previous registration's credential is dead.
    assert bob.call("get", "/relay/v1/accounts/me").status_code == 401


def test_linking_a_second_device_needs_a_device_of_the_account(client: Any, handset: Any) -> None:
    alice = handset()
    denied = register(client, alice.number, device_id=2)
    assert denied.status_code == 403
    linked = register(client, alice.number, device_id=2, auth=alice.auth)
    assert linked.status_code == 201
    assert linked.json()["device_id"] == 2
    other = handset()
    foreign = register(client, alice.number, device_id=3, auth=other.auth)
    assert foreign.status_code == 403
    first_device_two = register(client, new_number(), device_id=2)
    assert first_device_two.status_code == 400


def test_business_numbers_register_with_the_owning_business_token(
    client: Any, factory: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = PhoneNumber.objects.create(
        business=business, e164="+14155550123", country="US", display_name="Acme",
        created_at=clock.now(),
    )  # fmt: skip
    token = do_create_api_token(admin, name="endpoint").secret
    as_handset = register(client, number.e164, verify=False)
    assert as_handset.status_code == 403
    no_token = register(client, number.e164, kind="business")
    assert no_token.status_code == 403
    other = factory.business()
    other_token = do_create_api_token(factory.staff(other, "administrator"), name="x").secret
    wrong = register(client, number.e164, kind="business", auth=f"Bearer {other_token}")
    assert wrong.status_code == 403
    ok = register(client, number.e164, kind="business", auth=f"Bearer {token}")
    assert ok.status_code == 201, ok.content
    device = Device.objects.get(account__e164=number.e164)
    assert device.account.phone_number == number
    assert device.account.business_id == business.pk


N = "+919810099999"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"number": "+919810099999", "registration_id": 1, "identity_key": "***"}, "base64"),
        ({"number": "+919810099999", "registration_id": 1, "identity_key": b64(b"\x05" * 32)},
         "identity_key"),
        ({"number": N, "registration_id": 1, "identity_key": b64(b"\x06" + b"\1" * 32)},
         "identity_key"),
        ({"number": "+919810099999", "registration_id": 16384, "identity_key": b64(ec_key())},
         "registration_id"),
        ({"number": "12", "registration_id": 5, "identity_key": b64(ec_key())}, "phone number"),
        ({"registration_id": 5, "identity_key": b64(ec_key())}, "number"),
    ],
)  # fmt: skip
def test_bad_registrations_are_refused_and_write_nothing(
    client: Any, body: dict[str, Any], fragment: str
) -> None:
    import json

    response = client.post(
        "/relay/v1/accounts", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert fragment in error(response)["message"]
    assert not Device.objects.exists()


def test_malformed_json_is_an_error_envelope(client: Any) -> None:
    response = client.post("/relay/v1/accounts", data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert error(response)["code"] == 100
    response = client.post("/relay/v1/accounts", data="[1]", content_type="application/json")
    assert response.status_code == 400
    unknown = client.get("/relay/v1/nothing-here")
    assert unknown.status_code == 404
    assert error(unknown)["code"] == 2500


def test_registration_is_rate_limited_per_client(client: Any, settings: Any) -> None:
    numbers = [new_number() for _ in range(4)]
    sessions = [verified_session(client, n) for n in numbers]
    settings.PARLEY = {**settings.PARLEY, "RELAY_REGISTER_RATE_PER_HOUR": 3}
    pairs = zip(numbers, sessions, strict=True)
    codes = [register(client, n, session_id=s).status_code for n, s in pairs]
    assert codes == [201, 201, 201, 429]
