"""The fault numbers' table and the places that must refuse them, without a fleet: valid
numbers, the simulator API's list, `customer create` and `handset create` refusing them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from e2ee.handsets import customers, faults
from e2ee.handsets.models import FleetHandset
from e2ee.models import LocalDevice
from parley.accounts.actions.numbers import parse_e164
from parley.accounts.actions.tokens import do_create_api_token
from parley.core.errors import InvalidParameter
from tests.conftest import _free_port
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_FLEET_URL", f"http://127.0.0.1:{_free_port()}")


def test_every_fault_number_is_a_valid_distinct_number() -> None:
    numbers = [f.number for f in faults.FAULT_NUMBERS]
    assert [parse_e164(n)[0] for n in numbers] == numbers  # already E.164, and valid
    assert len(set(numbers)) == len({f.behaviour for f in faults.FAULT_NUMBERS}) == 6
    assert faults.NOT_ON_WHATSAPP not in faults.FLEET_NUMBERS
    assert len(faults.FLEET_NUMBERS) == 5


def test_the_simulator_lists_them(client: Client, tenant: Any, factory: Any) -> None:
    secret = do_create_api_token(factory.staff(tenant.business, "developer"), name="sim").secret
    response = api(client, secret, "get", "/parley/v1/simulator/fault-numbers")
    assert response.status_code == 200, response.content
    rows = response.json()["data"]
    assert [(r["phone_number"], r["behaviour"]) for r in rows] == [
        (f.number, f.behaviour) for f in faults.FAULT_NUMBERS
    ]
    assert all(r["wa_id"] == r["phone_number"][1:] and r["outcome"] for r in rows)
    assert_envelope(client.get("/parley/v1/simulator/fault-numbers"), 401, 190)


@pytest.mark.parametrize("number", [faults.NOT_ON_WHATSAPP, faults.NEVER_READS])
def test_customer_create_refuses_a_fault_number(tenant: Any, number: str) -> None:
    with pytest.raises(InvalidParameter, match="fault number"):
        customers.do_create_customer(tenant.business, number.lstrip("+"))
    assert not FleetHandset.objects.exists()


def test_handset_create_without_a_fleet_refuses_a_fault_number() -> None:
    with pytest.raises(CommandError, match="fault number"):
        call_command("handset", "create", faults.NOT_ON_WHATSAPP)
    assert not LocalDevice.objects.filter(e164=faults.NOT_ON_WHATSAPP).exists()
