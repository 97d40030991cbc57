"""e2ee integration helpers: real local devices (Django store) talking to a real relay."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from e2ee.actions import client_for, do_create_device
from e2ee.client import SignalClient
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import Business, PhoneNumber
from parley.core import clock

_numbers = itertools.count(1)


def new_handset_number() -> str:
    return f"+9198200{next(_numbers) % 100000:05d}"


def new_business_number() -> str:
    return f"+1415555{next(_numbers) % 10000:04d}"


@dataclass
class Tenant:
    business: Business
    number: PhoneNumber
    token: str
    admin: Any


@pytest.fixture
def tenant(factory: Any) -> Tenant:
    """A business with a connected number and a Business API token."""
    business = factory.business("Shop", country="US")
    number = PhoneNumber.objects.create(
        business=business,
        e164=new_business_number(),
        country="US",
        display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED,
        created_at=clock.now(),
    )
    admin = factory.staff(business, "administrator")
    token = do_create_api_token(admin, name="e2ee tests").secret
    return Tenant(business, number, token, admin)


@pytest.fixture
def make_handset(asgi_server: str, celery_worker: None) -> Callable[..., SignalClient]:
    """`make_handset()` creates a phone and registers it as a phone does: it asks the relay
    for a code, reads the SMS the simulated carrier's worker delivers and submits it."""

    def make(number: str | None = None, *, replace: bool = False) -> SignalClient:
        device = do_create_device(number or new_handset_number(), replace=replace)
        client = client_for(device, asgi_server)
        client.register()
        return client

    return make


@pytest.fixture
def business_endpoint(asgi_server: str, tenant: Tenant) -> SignalClient:
    device = do_create_device(tenant.number.e164, business_number=True)
    client = client_for(device, asgi_server)
    client.register(kind="business", token=tenant.token)
    return client
