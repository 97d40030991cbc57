"""A bundle fetch claims the device's oldest one-time pre-key through the index of that
device's keys: it never walks the keys every other device uploaded before them (a business
number's first contacts from a thousand new customers each claimed one that way)."""

from __future__ import annotations

from typing import Any

import pytest

from parley.relay.actions.keys import oldest_unclaimed
from parley.relay.models import Device, OneTimePreKey

pytestmark = pytest.mark.django_db


def test_the_oldest_one_time_key_of_a_device_comes_from_its_own_index(handset: Any) -> None:
    customers = [handset() for _ in range(3)]
    for phone in customers:
        phone.publish_keys(ec=100, kem=0)
    business, alice = handset(), customers[0]
    business.publish_keys(ec=3, kem=0)
    device = Device.objects.get(account__e164=business.number, device_id=1)
    query = oldest_unclaimed(OneTimePreKey.objects.filter(device=device))
    assert [k.key_id for k in query] == [1]
    assert "relay_ec_prekey_claim" in query.explain()

    response = alice.call("get", f"/relay/v1/keys/{business.number}/1")
    assert response.json()["devices"][0]["pre_key"]["key_id"] == 1
    assert [k.key_id for k in oldest_unclaimed(OneTimePreKey.objects.filter(device=device))] == [2]
