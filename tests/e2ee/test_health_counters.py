"""Health counters without a hot row: increments for one busy number spread over a few rows,
add up exactly under concurrent writers, and stay exact after the rows are compacted."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections

from e2ee.actions import do_create_device
from e2ee.health import SHARDS, do_compact_health_counters, do_count_health, get_device_health
from e2ee.models import HealthCounter, LocalDevice
from e2ee.selectors import get_health
from tests.e2ee.conftest import Tenant

pytestmark = pytest.mark.django_db


def _business_device(tenant: Tenant) -> LocalDevice:
    device = do_create_device(tenant.number.e164, business_number=True)
    assert device.business_id == tenant.business.pk
    return device


def test_counts_spread_over_rows_and_sum_on_read(tenant: Tenant) -> None:
    device = _business_device(tenant)
    for _ in range(200):
        do_count_health(device, decryptions=1)
    do_count_health(device, key_agreements=3, key_agreement_failures=1, decryption_failures=2)
    rows = HealthCounter.objects.filter(device=device)
    assert 1 < rows.count() <= SHARDS  # 200 increments did not all go to one row
    health = get_device_health(device)
    assert (health.key_agreements, health.key_agreement_failures) == (3, 1)
    assert (health.decryptions, health.decryption_failures) == (200, 2)
    report = get_health(business_id=tenant.business.pk)
    assert report.devices == 1 and report.decryptions == 200 and report.decryption_failures == 2


def test_counting_nothing_writes_nothing(tenant: Tenant) -> None:
    device = _business_device(tenant)
    do_count_health(device)
    assert not HealthCounter.objects.filter(device=device).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_add_up_exactly_and_survive_compaction(tenant: Tenant) -> None:
    device = _business_device(tenant)
    threads_n, each = 6, 40
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work() -> None:
        try:
            start.wait()
            for i in range(each):
                do_count_health(device, decryptions=1, decryption_failures=int(i % 10 == 0))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = threads_n * each
    assert get_device_health(device).decryptions == total
    assert get_device_health(device).decryption_failures == threads_n * 4

    removed = do_compact_health_counters()
    assert HealthCounter.objects.filter(device=device).count() == 1
    assert removed >= 1
    (row,) = HealthCounter.objects.filter(device=device)
    assert row.shard == 0 and row.decryptions == total
    assert get_health(business_id=tenant.business.pk).decryptions == total
    # Counting goes on after the compaction.
    do_count_health(device, decryptions=5)
    assert get_device_health(device).decryptions == total + 5


def test_the_endpoint_and_the_command_read_the_sums(
    tenant: Tenant, console_client: Any, capsys: Any
) -> None:
    device = _business_device(tenant)
    for _ in range(30):
        do_count_health(device, decryptions=1)
    do_count_health(device, decryption_failures=3)
    body = console_client.as_(tenant.admin).get("/parley/v1/security/e2ee-health").json()
    assert body["devices"] == 1
    assert body["decryption"]["attempted"] == 30 and body["decryption"]["failed"] == 3
    call_command("e2ee_health", "--business", str(tenant.business.pk))
    out = json.loads(capsys.readouterr().out)
    assert out["devices"] == 1 and out["decryption"]["attempted"] == 30


def test_the_rows_are_upserted_in_one_statement(
    tenant: Tenant, django_assert_num_queries: Any
) -> None:
    device = _business_device(tenant)
    with django_assert_num_queries(1):
        do_count_health(device, decryptions=1)
    with django_assert_num_queries(1):
        do_count_health(device, decryptions=1)
    assert get_device_health(device).decryptions == 2
