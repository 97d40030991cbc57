"""`manage.py customer …`: the same actions as the simulator API, one line of error and a
non-zero exit on bad input, and 503's message when no fleet runs."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from e2ee.actions import do_create_device
from e2ee.handsets.actions import do_enlist_handset
from e2ee.handsets.models import FleetHandset
from parley.accounts.models import PhoneNumber
from parley.core import clock
from tests.conftest import _free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_fleet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_FLEET_URL", f"http://127.0.0.1:{_free_port()}")


@pytest.fixture
def shop(factory: Any) -> Any:
    business = factory.business("Shop", country="US")
    PhoneNumber.objects.create(
        business=business, e164="+14155550901", country="US", display_name="Shop",
        code_verification_status=PhoneNumber.CodeStatus.VERIFIED,
        status=PhoneNumber.Status.CONNECTED, created_at=clock.now(),
    )  # fmt: skip
    return business


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("customer", *args, stdout=out)
    return out.getvalue()


def test_list_shows_only_the_business_customers(shop: Any, factory: Any) -> None:
    rival = factory.business("Rival")
    do_enlist_handset(do_create_device("+919820044444"), business_id=shop.pk, online=False,
                      read_delay_seconds=3, language="hi_IN")  # fmt: skip
    do_enlist_handset(do_create_device("+919820055555"), business_id=rival.pk)
    assert run("list", shop.slug) == "+919820044444 IN hi_IN offline reads after 3s\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "no-such-shop"), "No business with slug 'no-such-shop'."),
        (("create", "{shop}", "12ab"), "is not a phone number"),
        (("create", "{shop}", "+919820066666", "--language", "english"), "language must be"),
        (("create", "{shop}", "+919820066666"), "handset fleet is not running"),
        (("online", "{shop}", "+919820077777"), "is not a simulated customer of this business"),
        (("send", "{shop}", "+919820044444", "+14155550901"), "Nothing to send"),
        (("send", "{shop}", "+919820044444", "+14155550000", "hi"), "not a phone number of"),
        (("send", "{shop}", "+919820044444", "+14155550901", "hi"), "not running"),
        (("read", "{shop}", "+919820044444"), "not running"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    shop: Any, args: tuple[str, ...], message: str
) -> None:
    do_enlist_handset(do_create_device("+919820044444"), business_id=shop.pk)
    with pytest.raises(CommandError) as raised:
        run(*(a.format(shop=shop.slug) for a in args))
    text = str(raised.value)
    assert message in text and "\n" not in text
    assert FleetHandset.objects.count() == 1


def test_an_argument_error_exits_non_zero(shop: Any) -> None:
    with pytest.raises(CommandError, match="LATITUDE,LONGITUDE"):
        run("send", shop.slug, "+919820044444", "+14155550901", "--location", "north")
