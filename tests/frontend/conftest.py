"""Helpers for the console's tests: numbers, tokens and trusted devices made through the
product's own actions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from parley.accounts.actions.login import do_verify_second_factor
from parley.accounts.actions.numbers import do_add_number
from parley.accounts.actions.tokens import do_create_api_token
from tests.conftest import totp_now

_numbers = itertools.count(1)


class Console:
    """Creates the objects the console pages act on, the way the product does."""

    def number(self, admin: Any, name: str = "Acme Support") -> Any:
        return do_add_number(admin, phone_number=f"+9198765{next(_numbers):05d}", display_name=name)

    def token(self, actor: Any, name: str = "CRM") -> Any:
        return do_create_api_token(actor, name=name)

    def device(self, user: Any) -> Any:
        """Trust a browser for `user` (passes a real TOTP code); returns the device row."""
        do_verify_second_factor(user, totp_now(user), ip_address="203.0.113.9", user_agent="UA")
        return user.devices.order_by("-pk").first()


@pytest.fixture
def console() -> Console:
    return Console()
