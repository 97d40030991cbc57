"""Atomic one-time pre-key claims under real concurrency: threads with their own PostgreSQL
connections claim from the same pool at once; no key is handed out twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from parley.relay.actions.keys import do_claim_bundles
from parley.relay.models import Device, KemPreKey, OneTimePreKey
from tests.parley.relay.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
CLAIMS_PER_THREAD = 6
POOL = 40


def test_concurrent_bundle_fetches_never_share_a_one_time_key(handset: Any) -> None:
    alice, bob = handset(), handset()
    bob.publish_keys(ec=POOL, kem=POOL)
    requester = Device.objects.get(account__e164=alice.number)
    target = Device.objects.get(account__e164=bob.number).account
    barrier = threading.Barrier(THREADS)
    claimed_ec: list[int] = []
    claimed_kem: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(CLAIMS_PER_THREAD):
                (bundle,) = do_claim_bundles(requester, target, 1)
                with lock:
                    if bundle.pre_key is not None:
                        claimed_ec.append(bundle.pre_key.key_id)
                    if bundle.kem_pre_key is not None and not bundle.kem_last_resort:
                        claimed_kem.append(bundle.kem_pre_key.key_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    # 48 claims from a pool of 40: every key handed out exactly once, then none.
    assert len(claimed_ec) == POOL and len(set(claimed_ec)) == POOL
    assert len(claimed_kem) == POOL and len(set(claimed_kem)) == POOL
    assert not OneTimePreKey.objects.exists()
    assert list(KemPreKey.objects.values_list("last_resort", flat=True)) == [True]
