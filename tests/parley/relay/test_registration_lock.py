"""Registration Lock: a handset number's owner sets a PIN; re-registering the number's
primary device then needs it, and a takeover attempt without it changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import PhoneNumber
from parley.core import clock
from parley.core.events import IdentityChanged
from parley.relay.models import (
    Device,
    Envelope,
    IdentityKeyRecord,
    KemPreKey,
    OneTimePreKey,
    RelayAccount,
    SignedPreKey,
)
from tests.parley.relay.conftest import Handset, b64, ec_key, error, register, verified_session

pytestmark = pytest.mark.django_db

LOCK = "/relay/v1/accounts/registration-lock"
PIN = "493817"


def reregister(
    client: Any, number: str, pin: str | None = None, *, session: str | None = None, **kwargs: Any
) -> Any:
    """A re-registration of device 1 with a new identity key (a takeover by someone who also
    receives the number's texts, or a reinstall), with a verified session (a new one unless
    given)."""
    body = {
        "number": number,
        "kind": "handset",
        "device_id": 1,
        "registration_id": kwargs.get("registration_id", 4321),
        "identity_key": b64(kwargs.get("identity", ec_key())),
        "session_id": session or verified_session(client, number),
    }
    if pin is not None:
        body["registration_lock"] = pin
    return client.post("/relay/v1/accounts", data=json.dumps(body), content_type="application/json")


def snapshot(number: str) -> dict[str, Any]:
    device = Device.objects.get(account__e164=number, device_id=1)
    return {
        "identity_key": bytes(device.identity_key),
        "registration_id": device.registration_id,
        "credential_digest": device.credential_digest,
        "signed": SignedPreKey.objects.filter(device=device).count(),
        "kem": KemPreKey.objects.filter(device=device).count(),
        "ec": OneTimePreKey.objects.filter(device=device).count(),
        "mail": list(Envelope.objects.filter(recipient=device).values_list("guid", flat=True)),
        "history": IdentityKeyRecord.objects.filter(account=device.account).count(),
    }


def locked(handset: Any) -> tuple[Handset, Handset]:
    """Bob (with pre-keys, one queued envelope from Alice and Registration Lock on)."""
    alice, bob = handset(), handset()
    bob.publish_keys(ec=5, kem=5)
    assert alice.send(bob, b"\x01" * 40).status_code == 200
    response = bob.call("put", LOCK, {"pin": PIN})
    assert response.status_code == 200, response.content
    assert response.json() == {"registration_lock": True}
    return alice, bob


def test_setting_the_lock_stores_only_a_password_hash(handset: Any) -> None:
    _, bob = locked(handset)
    account = RelayAccount.objects.get(e164=bob.number)
    assert account.registration_lock_hash
    assert PIN not in account.registration_lock_hash
    assert account.registration_lock_hash.startswith(("pbkdf2_", "md5$", "argon2", "bcrypt"))
    assert bob.call("get", "/relay/v1/accounts/me").json()["registration_lock"] is True


def test_takeover_without_the_pin_is_refused_and_changes_nothing(
    client: Any, handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    _, bob = locked(handset)
    before = snapshot(bob.number)
    assert before["mail"] and before["ec"] == 5 and before["kem"] == 6 and before["signed"] == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = reregister(client, bob.number)
    assert response.status_code == 423, response.content
    body = error(response)
    assert body["code"] == 100
    assert "Registration Lock" in body["message"]
    assert snapshot(bob.number) == before
    assert not [e for e in events if isinstance(e, IdentityChanged)]
    # The owner's credential still works and the mail is still there for it.
    assert bob.call("get", "/relay/v1/accounts/me").status_code == 200
    assert [m["guid"] for m in bob.fetch()] == [str(g) for g in before["mail"]]
    # An empty PIN is no PIN; the same identity key (a re-login, not a new phone) is also refused.
    assert reregister(client, bob.number, pin="").status_code == 423
    same = register(client, bob.number)
    assert same.status_code == 423
    assert snapshot(bob.number) == before


def test_wrong_pins_are_refused_then_rate_limited(client: Any, handset: Any) -> None:
    _, bob = locked(handset)
    before = snapshot(bob.number)
    # Someone who receives the number's texts: a verified session, then PIN guesses (a
    # refused registration leaves the session usable).
    session = verified_session(client, bob.number)
    for _ in range(5):
        wrong = reregister(client, bob.number, pin="000000", session=session)
        assert wrong.status_code == 423, wrong.content
        assert "Registration Lock" in error(wrong)["message"]
    limited = reregister(client, bob.number, pin="000000", session=session)
    assert limited.status_code == 429, limited.content
    assert error(limited)["code"] == 4
    assert int(limited["Retry-After"]) >= 1
    # Past the limit even the right PIN waits (a 429 tells a guesser nothing).
    assert reregister(client, bob.number, pin=PIN, session=session).status_code == 429
    assert snapshot(bob.number) == before
    # A malformed PIN is bad input, not a guess.
    assert reregister(client, bob.number, pin="x" * 21, session=session).status_code == 400

    with clock.frozen(clock.now() + dt.timedelta(hours=1, minutes=1)):
        ok = reregister(client, bob.number, pin=PIN)
    assert ok.status_code == 200, ok.content


def test_the_right_pin_reregisters_normally_and_keeps_the_lock(
    client: Any, handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = locked(handset)
    new_identity = ec_key()
    with django_capture_on_commit_callbacks(execute=True):
        response = reregister(client, bob.number, pin=PIN, identity=new_identity)
    assert response.status_code == 200, response.content
    assert response.json()["identity_changed"] is True
    device = Device.objects.get(account__e164=bob.number, device_id=1)
    assert bytes(device.identity_key) == new_identity
    assert device.registration_id == 4321
    # The identity-change flow is unchanged: old keys and mail wiped, peers told.
    assert not OneTimePreKey.objects.filter(device=device).exists()
    assert not Envelope.objects.filter(recipient=device).exists()
    assert [e.e164 for e in events if isinstance(e, IdentityChanged)] == [bob.number]
    # The old credential is dead; the lock is still on for the next attempt.
    assert bob.call("get", "/relay/v1/accounts/me").status_code == 401
    assert RelayAccount.objects.get(e164=bob.number).registration_lock_hash
    assert reregister(client, bob.number).status_code == 423
    new_bob = Handset(client, bob.number, response.json())
    assert new_bob.call("get", "/relay/v1/accounts/me").json()["registration_lock"] is True
    del alice


def test_changing_and_clearing_the_lock(client: Any, handset: Any) -> None:
    _, bob = locked(handset)
    assert bob.call("put", LOCK, {"pin": "12345678901234567890"}).status_code == 200
    assert reregister(client, bob.number, pin=PIN).status_code == 423  # the old PIN is gone
    cleared = bob.call("delete", LOCK)
    assert cleared.status_code == 200
    assert cleared.json() == {"registration_lock": False}
    assert RelayAccount.objects.get(e164=bob.number).registration_lock_hash == ""
    assert bob.call("delete", LOCK).status_code == 200  # idempotent
    assert bob.call("get", "/relay/v1/accounts/me").json()["registration_lock"] is False
    assert reregister(client, bob.number).status_code == 200


@pytest.mark.parametrize("pin", ["123", "123456789012345678901", "12a4", " 1234", "", 1234, None])
def test_pins_are_4_to_20_digits(handset: Any, pin: Any) -> None:
    phone = handset()
    response = phone.call("put", LOCK, {"pin": pin})
    assert response.status_code == 400, response.content
    assert error(response)["code"] == 100
    assert RelayAccount.objects.get(e164=phone.number).registration_lock_hash == ""


def test_only_the_primary_device_sets_the_lock(client: Any, handset: Any) -> None:
    phone = handset()
    linked = register(client, phone.number, device_id=2, auth=phone.auth)
    assert linked.status_code == 201, linked.content
    second = Handset(client, phone.number, linked.json())
    response = second.call("put", LOCK, {"pin": PIN})
    assert response.status_code == 403
    assert "primary device" in error(response)["message"]
    assert second.call("delete", LOCK).status_code == 403
    assert RelayAccount.objects.get(e164=phone.number).registration_lock_hash == ""
    # A locked number still links devices with an existing device's credential.
    assert phone.call("put", LOCK, {"pin": PIN}).status_code == 200
    third = register(client, phone.number, device_id=3, auth=phone.auth)
    assert third.status_code == 201, third.content


def test_a_business_number_cannot_set_one(client: Any, factory: Any) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = PhoneNumber.objects.create(
        business=business, e164="+14155550177", country="US", display_name="Acme",
        created_at=clock.now(),
    )  # fmt: skip
    token = do_create_api_token(admin, name="endpoint").secret
    ok = register(client, number.e164, kind="business", auth=f"Bearer {token}")
    assert ok.status_code == 201, ok.content
    endpoint = Handset(client, number.e164, ok.json())
    response = endpoint.call("put", LOCK, {"pin": PIN})
    assert response.status_code == 403
    assert "business" in error(response)["message"]
    assert endpoint.call("delete", LOCK).status_code == 403
    assert RelayAccount.objects.get(e164=number.e164).registration_lock_hash == ""


def test_setting_the_lock_needs_a_device_credential(client: Any, handset: Any) -> None:
    phone = handset()
    for method in ("put", "delete"):
        response = getattr(client, method)(
            LOCK, data=json.dumps({"pin": PIN}), content_type="application/json"
        )
        assert response.status_code == 401, response.content
        assert error(response)["code"] == 190
    bad = client.put(
        LOCK,
        data=json.dumps({"pin": PIN}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {phone.number}.1:{'x' * 43}",
    )
    assert bad.status_code == 401
    assert error(bad)["code"] == 190
    assert RelayAccount.objects.get(e164=phone.number).registration_lock_hash == ""
