"""Business numbers: E.164 validation and the registration flow, with the real worker
delivering the simulated SMS."""

import time

import pytest

from parley.accounts.actions.numbers import (
    do_add_number,
    do_request_official_verification,
    do_review_official_verification,
)
from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import NumberVerificationCode, PhoneNumber
from parley.accounts.selectors import get_simulated_inbox
from parley.core.errors import Conflict, InvalidParameter, PermissionDenied
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "e164", "country"),
    [
        ("+91 98765 43210", "+919876543210", "IN"),
        ("14155552672", "+14155552672", "US"),
        ("+44 20 7183 8750", "+442071838750", "GB"),
    ],
)
def test_numbers_are_normalised_and_their_country_derived(factory, raw, e164, country) -> None:
    admin = factory.staff(factory.business(), "administrator")
    number = do_add_number(admin, phone_number=raw, display_name="Acme Support")
    assert (number.e164, number.country) == (e164, country)
    assert number.official_verification == "unverified"


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["", "hello", "+1 555", "+999123456789", "0"])
def test_invalid_numbers_are_refused(factory, raw) -> None:
    admin = factory.staff(factory.business(), "administrator")
    with pytest.raises(InvalidParameter) as excinfo:
        do_add_number(admin, phone_number=raw, display_name="Acme Support")
    assert excinfo.value.field == "phone_number"
    assert not PhoneNumber.objects.exists()


@pytest.mark.django_db
def test_duplicates_and_roles(factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    do_add_number(admin, phone_number="+919876543210", display_name="Acme")
    with pytest.raises(Conflict):
        do_add_number(admin, phone_number="+91 98765 43210", display_name="Acme")
    with pytest.raises(PermissionDenied):
        do_add_number(factory.staff(business, "developer"), phone_number="+14155550100",
                      display_name="Acme")  # fmt: skip


def _wait_for_delivery(number: PhoneNumber) -> str:
    for _ in range(300):  # the worker runs in another process; bounded wait
        inbox = get_simulated_inbox(number)
        if inbox:
            return str(inbox[0]["code"])
        time.sleep(0.05)
    raise AssertionError("the simulated carrier never delivered the code")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_registration_flow_through_the_api(client, factory) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    secret = do_create_api_token(admin, name="setup").secret
    number = do_add_number(admin, phone_number="+14155550123", display_name="Acme US")
    base = f"/v23.0/{number.pk}"

    # Registering before verifying is refused.
    assert_envelope(api(client, secret, "post", f"{base}/register",
                        {"messaging_product": "whatsapp", "pin": "123456"}), 400, 100)  # fmt: skip

    response = api(client, secret, "post", f"{base}/request_code",
                   {"code_method": "SMS", "language": "en_US"})  # fmt: skip
    assert response.json() == {"success": True}
    code = _wait_for_delivery(number)
    stored = NumberVerificationCode.objects.get(number=number)
    assert code not in stored.code_hash and code not in stored.code_encrypted

    wrong = "000000" if code != "000000" else "111111"
    assert_envelope(api(client, secret, "post", f"{base}/verify_code", {"code": wrong}), 400, 100)
    assert api(client, secret, "post", f"{base}/verify_code", {"code": code}).json() == {
        "success": True
    }
    assert_envelope(api(client, secret, "post", f"{base}/register",
                        {"messaging_product": "whatsapp", "pin": "12ab56"}), 400, 100)  # fmt: skip
    response = api(client, secret, "post", f"{base}/register",
                   {"messaging_product": "whatsapp", "pin": "123456"})  # fmt: skip
    assert response.json() == {"success": True}
    node = api(client, secret, "get", base).json()
    assert node["code_verification_status"] == "VERIFIED"
    assert node["status"] == "CONNECTED"
    assert node["display_phone_number"] == "+1 415-555-0123"

    # Re-registration repeats the same PIN.
    api(client, secret, "post", f"{base}/deregister", {})
    assert_envelope(api(client, secret, "post", f"{base}/register",
                        {"messaging_product": "whatsapp", "pin": "654321"}), 400, 100)  # fmt: skip

    # Official verification: requested by the administrator, decided by the operator.
    api(
        client,
        secret,
        "post",
        f"{base}/register",
        {"messaging_product": "whatsapp", "pin": "123456"},
    )
    do_request_official_verification(admin, number.pk)
    assert PhoneNumber.objects.get(pk=number.pk).official_verification == "pending"
    with pytest.raises(Conflict):
        do_request_official_verification(admin, number.pk)
    do_review_official_verification(number.pk, approve=True)
    assert api(client, secret, "get", base).json()["is_official_business_account"] is True


@pytest.mark.django_db
def test_codes_expire(client, factory, frozen_clock) -> None:
    from parley.accounts.actions.numbers import (
        do_deliver_code,
        do_expire_codes,
        do_request_code,
        do_verify_code,
    )

    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = do_add_number(admin, phone_number="+14155550124", display_name="Acme US")
    record = do_request_code(business, number.pk, method="VOICE")
    do_deliver_code(record.pk)
    code = str(get_simulated_inbox(number)[0]["code"])
    frozen_clock.advance(minutes=11)
    assert do_expire_codes() == 1
    with pytest.raises(InvalidParameter, match="request a new code"):
        do_verify_code(business, number.pk, code=code)
    number.refresh_from_db()
    assert number.code_verification_status == "EXPIRED"
