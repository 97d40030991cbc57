"""The pre-key directory: upload, claim, last-resort fallback, replenish, rotation, input."""

from __future__ import annotations

from typing import Any

import pytest

from parley.core.events import PreKeysLow
from parley.relay.actions.retention import do_purge_metadata
from parley.relay.models import KemPreKey, OneTimePreKey, SignedPreKey
from tests.parley.relay.conftest import (
    b64,
    ec_key,
    error,
    kem_key,
    kem_pre_key,
    pre_keys,
    signature,
    signed_pre_key,
)

pytestmark = pytest.mark.django_db


def bundle(phone: Any, target: Any, device: str = "1") -> Any:
    return phone.call("get", f"/relay/v1/keys/{target.number}/{device}")


def test_upload_then_fetch_claims_each_one_time_key_once(handset: Any) -> None:
    alice, bob = handset(), handset()
    counts = bob.publish_keys(ec=3, kem=2)
    assert counts == {"count": 3, "pq_count": 2, "pq_last_resort": True,
                      "signed_pre_key": True, "replenish": True}  # fmt: skip
    seen_ec, seen_kem = [], []
    for _ in range(3):
        response = bundle(alice, bob)
        assert response.status_code == 200, response.content
        (device,) = response.json()["devices"]
        assert device["device_id"] == 1 and device["registration_id"] == 1234
        assert len(__import__("base64").b64decode(device["identity_key"])) == 33
        assert device["signed_pre_key"]["key_id"] == 1
        seen_ec.append(device["pre_key"]["key_id"])
        seen_kem.append((device["pq_pre_key"]["key_id"], device["pq_pre_key"]["last_resort"]))
    assert seen_ec == [1, 2, 3]
    # Two one-time KEM keys, then the last-resort key (not consumed).
    assert seen_kem == [(100, False), (101, False), (9000, True)]
    (device,) = bundle(alice, bob).json()["devices"]
    assert device["pre_key"] is None  # no EC one-time key left: none returned
    assert device["pq_pre_key"] == {**device["pq_pre_key"], "key_id": 9000, "last_resort": True}
    assert KemPreKey.objects.filter(last_resort=True).count() == 1
    count = bob.call("get", "/relay/v1/keys/count").json()
    assert count["count"] == 0 and count["pq_count"] == 0 and count["replenish"] is True


def test_bundle_for_all_devices_and_unknown_targets(client: Any, handset: Any) -> None:
    from tests.parley.relay.conftest import Handset, register

    alice, bob = handset(), handset()
    bob.publish_keys(ec=2, kem=2)
    second = register(client, bob.number, device_id=2, auth=bob.auth, registration_id=99)
    bob2 = Handset(client, bob.number, second.json())
    bob2.publish_keys(ec=2, kem=0)
    devices = alice.call("get", f"/relay/v1/keys/{bob.number}/*").json()["devices"]
    assert [(d["device_id"], d["registration_id"]) for d in devices] == [(1, 1234), (2, 99)]
    assert devices[1]["pq_pre_key"]["last_resort"] is True
    assert bundle(alice, bob, "7").status_code == 404
    assert error(alice.call("get", "/relay/v1/keys/+919899999999/1"))["code"] == 100
    assert alice.call("get", "/relay/v1/keys/+919899999999/1").status_code == 404
    assert alice.call("get", f"/relay/v1/keys/{bob.number}/x").status_code == 400
    carol = handset()  # registered, no keys published
    assert alice.call("get", f"/relay/v1/keys/{carol.number}/*").status_code == 404


def test_replenish_threshold_flag_count_and_event(
    handset: Any, events: list[Any], django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PARLEY = {**settings.PARLEY, "RELAY_PREKEY_LOW_WATERMARK": 3}
    alice, bob = handset(), handset()
    assert bob.publish_keys(ec=4, kem=4)["replenish"] is False
    with django_capture_on_commit_callbacks(execute=True):
        bundle(alice, bob)  # 3 left of each: still fine
    assert not [e for e in events if isinstance(e, PreKeysLow)]
    assert bob.call("get", "/relay/v1/keys/count").json()["replenish"] is False
    with django_capture_on_commit_callbacks(execute=True):
        bundle(alice, bob)  # 2 left: below the threshold
    low = [e for e in events if isinstance(e, PreKeysLow)]
    assert [(e.e164, e.ec_remaining, e.kem_remaining) for e in low] == [(bob.number, 2, 2)]
    assert low[0].audience == frozenset()
    assert bob.call("get", "/relay/v1/keys/count").json()["replenish"] is True
    topped = bob.upload(
        pre_keys=pre_keys(50, 5), pq_pre_keys=[kem_pre_key(500 + i) for i in range(5)]
    )
    assert topped.json()["replenish"] is False


def test_signed_pre_key_rotation_keeps_the_previous_for_the_grace_period(
    handset: Any, frozen_clock: Any
) -> None:
    alice, bob = handset(), handset()
    bob.publish_keys(ec=5, kem=0, signed_id=1)
    frozen_clock.advance(days=7)
    rotated = bob.upload(signed_pre_key=signed_pre_key(2))
    assert rotated.status_code == 200
    (device,) = bundle(alice, bob).json()["devices"]
    assert device["signed_pre_key"]["key_id"] == 2
    listed = bob.call("get", "/relay/v1/keys/signed").json()["signed_pre_keys"]
    assert [(k["key_id"], k["current"]) for k in listed] == [(2, True), (1, False)]
    # Re-uploading the same key is a no-op; a different key under a used id is refused.
    again = SignedPreKey.objects.get(key_id=2)
    same = {"key_id": 2, "public_key": b64(bytes(again.public_key)),
            "signature": b64(bytes(again.signature))}  # fmt: skip
    assert bob.upload(signed_pre_key=same).status_code == 200
    clash = bob.upload(signed_pre_key=signed_pre_key(2))
    assert clash.status_code == 409
    frozen_clock.advance(days=29)
    do_purge_metadata()
    assert SignedPreKey.objects.count() == 2  # still inside the 30-day grace
    frozen_clock.advance(days=2)
    do_purge_metadata()
    assert list(SignedPreKey.objects.values_list("key_id", flat=True)) == [2]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"pre_keys": [{"key_id": 1, "public_key": "not base64!"}]}, "base64"),
        ({"pre_keys": [{"key_id": 1, "public_key": b64(b"\x05" * 10)}]}, "pre_keys[0].public_key"),
        ({"pre_keys": [{"key_id": 1, "public_key": b64(b"\x08" + b"\1" * 32)}]}, "0x05"),
        ({"pre_keys": [{"key_id": -1, "public_key": b64(ec_key())}]}, "key_id"),
        ({"pre_keys": [{"key_id": 1, "public_key": b64(ec_key())},
                       {"key_id": 1, "public_key": b64(ec_key())}]}, "repeat"),
        ({"signed_pre_key": {"key_id": 1, "public_key": b64(ec_key()),
                             "signature": b64(b"\1" * 63)}}, "64-byte"),
        ({"pq_pre_keys": [{"key_id": 1, "public_key": b64(b"\x08" + b"\1" * 1567),
                           "signature": b64(signature())}]}, "1569-byte"),
        ({"pq_pre_keys": [{"key_id": 1, "public_key": b64(b"\x05" + b"\1" * 1568),
                           "signature": b64(signature())}]}, "0x08"),
        ({"pq_last_resort_pre_key": {"key_id": 1, "public_key": b64(b"\x08" * 4000),
                                     "signature": b64(signature())}}, "at most"),
        ({"pre_keys": pre_keys(1, 101)}, "at most 100"),
    ],
)  # fmt: skip
def test_bad_key_uploads_are_refused_and_write_nothing(
    handset: Any, body: dict[str, Any], fragment: str
) -> None:
    bob = handset()
    # A valid signed pre-key alongside the bad part: all or nothing.
    response = (
        bob.upload(signed_pre_key=signed_pre_key(5), **body)
        if "signed_pre_key" not in body
        else bob.upload(**body)
    )
    assert response.status_code == 400, response.content
    assert fragment in error(response)["message"]
    assert not OneTimePreKey.objects.exists()
    assert not KemPreKey.objects.exists()
    assert not SignedPreKey.objects.exists()


def test_conflicting_uploads_are_409_and_write_nothing(handset: Any) -> None:
    bob = handset()
    bob.publish_keys(ec=2, kem=1)
    before = (OneTimePreKey.objects.count(), KemPreKey.objects.count())
    dup = bob.upload(pre_keys=pre_keys(2, 3))  # key 2 is stored already
    assert dup.status_code == 409
    other_identity = bob.upload(identity_key=b64(ec_key()), pre_keys=pre_keys(10, 1))
    assert other_identity.status_code == 409
    assert (OneTimePreKey.objects.count(), KemPreKey.objects.count()) == before
    raw = bob.call("put", "/relay/v1/keys", raw='{"pre_keys": [')
    assert raw.status_code == 400 and error(raw)["code"] == 100


def test_key_fetch_is_rate_limited_per_device(handset: Any, settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "RELAY_KEY_FETCH_RATE_PER_MINUTE": 2}
    alice, bob = handset(), handset()
    bob.publish_keys(ec=5, kem=0)
    codes = [bundle(alice, bob).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert bundle(bob, bob).status_code == 200  # another device has its own budget
    assert OneTimePreKey.objects.count() == 2


def test_one_requester_cannot_drain_a_targets_one_time_keys(
    client: Any, handset: Any, frozen_clock: Any
) -> None:
    limit = 10  # RELAY_KEY_FETCH_RATE_PER_TARGET_PER_HOUR, well inside the per-minute limit
    alice, bob, carol = handset(), handset(), handset()
    bob.publish_keys(ec=40, kem=40)
    # Alice's linked device shares her budget for Bob's keys.
    from tests.parley.relay.conftest import Handset, register

    linked = register(client, alice.number, device_id=2, auth=alice.auth, registration_id=7)
    alice2 = Handset(client, alice.number, linked.json())
    taken = []
    for i in range(limit):
        response = bundle(alice if i % 2 else alice2, bob)
        assert response.status_code == 200, response.content
        taken.append(response.json()["devices"][0]["pre_key"]["key_id"])
    refused = bundle(alice, bob)
    assert refused.status_code == 429, refused.content
    assert error(refused)["code"] == 4
    assert int(refused["Retry-After"]) >= 1
    assert bundle(alice2, bob).status_code == 429
    assert len(set(taken)) == limit
    assert OneTimePreKey.objects.filter(device__account__e164=bob.number).count() == 40 - limit
    # Another requester still gets a one-time key; Alice may still fetch others' keys.
    (device,) = bundle(carol, bob).json()["devices"]
    assert device["pre_key"] is not None and device["pre_key"]["key_id"] not in taken
    carol.publish_keys(ec=2, kem=0)
    assert bundle(alice, carol).status_code == 200
    # The budget comes back with the next hour.
    frozen_clock.advance(hours=1)
    assert bundle(alice, bob).status_code == 200


def test_claims_are_ordered_and_never_repeat_under_load(handset: Any, settings: Any) -> None:
    settings.PARLEY = {**settings.PARLEY, "RELAY_KEY_FETCH_RATE_PER_TARGET_PER_HOUR": 100}
    alice, bob = handset(), handset()
    bob.publish_keys(ec=30, kem=0)
    claimed = [bundle(alice, bob).json()["devices"][0]["pre_key"]["key_id"] for _ in range(30)]
    assert sorted(claimed) == list(range(1, 31))


def test_pre_key_signatures_must_verify_against_the_identity(handset: Any) -> None:
    bob = handset()
    forged = {"key_id": 7, "public_key": b64(ec_key()), "signature": b64(signature())}
    response = bob.upload(signed_pre_key=forged)
    assert response.status_code == 400
    assert "does not verify" in error(response)["message"]
    bad_kem = {"key_id": 8, "public_key": b64(kem_key()), "signature": b64(signature())}
    assert bob.upload(pq_pre_keys=[bad_kem]).status_code == 400
    assert bob.upload(pq_last_resort_pre_key=bad_kem).status_code == 400
    assert bob.upload(signed_pre_key=signed_pre_key(7)).status_code == 200
