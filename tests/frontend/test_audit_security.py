"""The audit log page (filters, pagination, chain verification) and the security page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from parley.accounts.actions.audit import do_record_audit
from parley.accounts.models import TrustedDevice

pytestmark = pytest.mark.django_db


def _seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', html)]


def test_audit_log_newest_first_filtered_and_paged(factory: Any, console_client: Any) -> None:
    business = factory.business()
    officer = factory.staff(business, "compliance_officer")
    for i in range(70):
        do_record_audit("staff.role_changed", business_id=business.pk, actor_label="boss@acme.test",
                        target=f"user{i}@acme.test", details={"from": "agent", "to": "supervisor"},
                        ip_address="198.51.100.7")  # fmt: skip
    for i in range(5):
        do_record_audit("number.added", business_id=business.pk, target=f"+91987650000{i}")
    client = console_client.as_(officer)
    first = client.get("/audit/").content.decode()
    seqs = _seqs(first)
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    assert "number.added" in first.split("<tbody>")[1][:2000]  # the newest are on top
    assert "198.51.100.7" in first and "supervisor" in first
    assert "Showing 1\N{EN DASH}50 of 75 entries" in first
    staff_only = client.get("/audit/?action=staff.").content.decode()
    assert (
        "Showing 1\N{EN DASH}50 of 70 entries" in staff_only
        and "number.added</code>" not in staff_only
    )
    assert 'href="?action=staff.&amp;page=2"' in staff_only
    page2 = client.get("/audit/?action=staff.&page=2").content.decode()
    assert len(_seqs(page2)) == 20
    assert set(_seqs(page2)).isdisjoint(_seqs(staff_only))
    numbers = client.get("/audit/?action=number").content.decode()
    assert len(_seqs(numbers)) == 5
    # The datalist offers the prefixes in use.
    assert '<option value="staff.">' in first and '<option value="number.">' in first


def test_audit_chain_panel_reports_tampering(factory: Any, console_client: Any) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    entries = [do_record_audit("number.added", business_id=business.pk, target=f"n{i}")
               for i in range(3)]  # fmt: skip
    client = console_client.as_(admin)
    html = client.get("/audit/").content.decode()
    assert "Chain intact" in html
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_auditentry SET target = %s WHERE seq = %s", ["edited", entries[1].seq]
        )
    html = client.get("/audit/").content.decode()
    assert f"Chain broken at entry {entries[1].seq}" in html
    assert "Entry contents altered" in html


def test_security_page_lists_and_forgets_devices(
    factory: Any, console: Any, console_client: Any
) -> None:
    user = factory.staff(factory.business(), "agent")
    device = console.device(user)
    client = console_client.as_(user)
    html = client.get("/security/").content.decode()
    assert 'data-testid="two-factor-status"><span class="badge verified">on' in html
    assert f'data-device="{device.pk}"' in html and "203.0.113.9" in html
    response = client.post(f"/security/devices/{device.pk}/forget/", follow=True)
    assert "Device forgotten" in response.content.decode()
    assert f'data-device="{device.pk}"' not in response.content.decode()
    device.refresh_from_db()
    assert device.revoked_at is not None
    # Forgetting it again is a 404, not an error page.
    assert client.post(f"/security/devices/{device.pk}/forget/").status_code == 404


def test_forgetting_this_browser_drops_its_cookie(factory: Any, console_client: Any) -> None:
    from parley.accounts.actions.login import do_verify_second_factor
    from tests.conftest import totp_now

    user = factory.staff(factory.business(), "developer")
    token = do_verify_second_factor(user, totp_now(user), ip_address="127.0.0.1")
    device = TrustedDevice.objects.get(user=user)
    client = console_client.as_(user)
    cookie = settings.PARLEY["TRUSTED_DEVICE_COOKIE"]
    client.cookies[cookie] = token
    assert "this browser" in client.get("/security/").content.decode()
    response = client.post(f"/security/devices/{device.pk}/forget/")
    assert response.cookies[cookie].value == ""
