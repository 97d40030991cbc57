"""A number's registration through the console pages, with the real Celery worker playing
the simulated carrier that delivers the code."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from parley.accounts.models import AuditEntry, NumberVerificationCode, PhoneNumber
from tests.frontend.helpers import by_testid, field_error


def _wait_for_code(client: Any, number_id: int, timeout: float = 20.0) -> str:
    """Poll the simulated inbox (as the page's script does) until the worker delivered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = client.get(f"/numbers/{number_id}/?part=inbox").content.decode()
        codes = by_testid(html, "inbox-code")
        if codes:
            return codes[0]
        assert "Waiting for delivery" in html, list(
            NumberVerificationCode.objects.filter(number_id=number_id).values()
        )
        time.sleep(0.1)
    raise AssertionError("the simulated carrier did not deliver the code")


@pytest.mark.django_db(transaction=True)
def test_registration_flow_through_the_pages(
    factory: Any, console_client: Any, celery_worker: None
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    client = console_client.as_(admin)

    added = client.post("/numbers/", {"phone_number": "+91 98765 43210", "display_name": "Acme"})
    assert added.status_code == 302
    number = PhoneNumber.objects.get(business=business)
    assert added["Location"] == f"/numbers/{number.pk}/"
    assert number.e164 == "+919876543210" and number.country == "IN"

    detail = client.get(added["Location"]).content.decode()
    assert "Not Verified" in detail and 'data-testid="request-code"' in detail

    requested = client.post(f"/numbers/{number.pk}/request-code/", {"code_method": "SMS"})
    assert requested.status_code == 302
    code = _wait_for_code(client, number.pk)
    assert re.fullmatch(r"\d{6}", code)
    assert f">{code}<" in client.get(f"/numbers/{number.pk}/").content.decode()

    wrong = "000000" if code != "000000" else "111111"
    response = client.post(f"/numbers/{number.pk}/verify/", {"code": wrong})
    assert response.status_code == 200
    assert "The code is incorrect." in field_error(response.content.decode(), "code")
    number.refresh_from_db()
    assert number.code_verification_status == "NOT_VERIFIED"
    response = client.post(f"/numbers/{number.pk}/verify/", {"code": "12ab"})
    assert "Enter the 6-digit code" in field_error(response.content.decode(), "code")

    assert client.post(f"/numbers/{number.pk}/verify/", {"code": code}).status_code == 302
    number.refresh_from_db()
    assert number.code_verification_status == "VERIFIED"

    response = client.post(f"/numbers/{number.pk}/register/", {"pin": "12345"})
    assert "The PIN is 6 digits." in field_error(response.content.decode(), "pin")
    assert client.post(f"/numbers/{number.pk}/register/", {"pin": "246810"}).status_code == 302
    number.refresh_from_db()
    assert number.status == "CONNECTED" and number.pin_hash and "246810" not in number.pin_hash

    response = client.post(f"/numbers/{number.pk}/official/", follow=True)
    assert "Official verification requested" in response.content.decode()
    number.refresh_from_db()
    assert number.official_verification == "pending"
    again = client.post(f"/numbers/{number.pk}/official/")
    assert again.status_code == 200
    assert "This number is already pending." in again.content.decode()

    actions = set(
        AuditEntry.objects.filter(business_ref=business.pk).values_list("action", flat=True)
    )
    assert {"number.added", "number.code_requested", "number.code_verified",
            "number.registered", "number.official_requested"} <= actions  # fmt: skip
    listing = client.get("/numbers/").content.decode()
    assert ">connected<" in listing and "review pending" in listing


@pytest.mark.django_db(transaction=True)
def test_developer_sees_status_and_inbox_without_step_forms(
    factory: Any, console: Any, console_client: Any, celery_worker: None
) -> None:
    from parley.accounts.actions.numbers import do_request_code

    business = factory.business()
    admin = factory.staff(business, "administrator")
    developer = factory.staff(business, "developer")
    number = console.number(admin)
    do_request_code(business, number.pk, method="VOICE", actor_label=admin.email)
    client = console_client.as_(developer)
    code = _wait_for_code(client, number.pk)
    html = client.get(f"/numbers/{number.pk}/").content.decode()
    assert code in html and "VOICE" in html
    for form in ("request-code", "verify-code", "register", "request-official"):
        assert f'data-testid="{form}"' not in html
    assert 'data-testid="number-add"' not in client.get("/numbers/").content.decode()


@pytest.mark.django_db
def test_add_number_errors(factory: Any, console_client: Any) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    client = console_client.as_(admin)
    response = client.post("/numbers/", {"phone_number": "12", "display_name": "Acme"})
    assert "is not a valid phone number" in field_error(
        response.content.decode(), "phone_number"
    ) or "is not a phone number" in field_error(response.content.decode(), "phone_number")
    response = client.post("/numbers/", {"phone_number": "+919876543210", "display_name": "A"})
    assert "3 to 100 characters" in field_error(response.content.decode(), "display_name")
    assert not PhoneNumber.objects.exists()
    client.post("/numbers/", {"phone_number": "+919876543210", "display_name": "Acme"})
    response = client.post("/numbers/", {"phone_number": "+91 98765 43210", "display_name": "Acme"})
    assert "already on the platform" in field_error(response.content.decode(), "phone_number")
    assert PhoneNumber.objects.count() == 1


@pytest.mark.django_db
def test_register_before_verifying_is_an_error_not_a_crash(
    factory: Any, console: Any, console_client: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    client = console_client.as_(admin)
    response = client.post(f"/numbers/{number.pk}/register/", {"pin": "123456"})
    assert response.status_code == 200
    assert "Verify the number with a code before registering it." in response.content.decode()
    response = client.post(f"/numbers/{number.pk}/verify/", {"code": "123456"})
    assert "No valid code is outstanding" in response.content.decode()
    response = client.post(f"/numbers/{number.pk}/request-code/", {"code_method": "PIGEON"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.django_db
def test_the_number_page_shows_and_changes_its_throughput(
    factory: Any, console_client: Any, console: Any, frozen_clock: Any
) -> None:
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    client = console_client.as_(admin)
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert "Level <strong>STANDARD</strong>: 80 messages a second" in page
    response = client.post(f"/numbers/{number.pk}/throughput/", {"level": "HIGH"})
    assert response.status_code == 302
    number.refresh_from_db()
    assert number.throughput_level == "HIGH" and number.throughput_upgrading_until is not None
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert "1000 messages a second" in page and "sends fail with 131057" in page
    bad = client.post(f"/numbers/{number.pk}/throughput/", {"level": "WARP"})
    assert bad.status_code == 200 and "level must be one of" in bad.content.decode()
    assert AuditEntry.objects.filter(action="number.throughput_changed").count() == 1
    # A developer sees the level but cannot change it.
    developer = console_client.as_(factory.staff(business, "developer"))
    assert (
        'data-testid="throughput-form"'
        not in developer.get(f"/numbers/{number.pk}/").content.decode()
    )
    assert (
        developer.post(f"/numbers/{number.pk}/throughput/", {"level": "STANDARD"}).status_code
        == 403
    )


@pytest.mark.django_db
def test_the_number_page_shows_and_sets_the_messaging_limit_and_quality(
    factory: Any, console_client: Any, console: Any, frozen_clock: Any, settings: Any
) -> None:
    from parley.messaging.actions import do_admit_sends, do_send_message
    from parley.messaging.content import Template

    settings.PARLEY = {**settings.PARLEY, "MESSAGING_LIMITS": {
        **settings.PARLEY["MESSAGING_LIMITS"], "TIER_250": 5}}  # fmt: skip
    business = factory.business()
    admin = factory.staff(business, "administrator")
    number = console.number(admin)
    client = console_client.as_(admin)
    do_admit_sends([do_send_message(number, f"+91982000{i:04d}",
                                    Template("promo", "en_US", "utility", body="Hi"),
                                    deliver=False) for i in range(2)])  # fmt: skip
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "limit-tier") == ["TIER_250"]
    assert by_testid(page, "limit-used") == ["2"] and "of 5 unique customers" in page
    assert by_testid(page, "quality-rating") == ["GREEN"]
    frozen_clock.advance(hours=24, seconds=1)
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "limit-used") == ["0"]

    assert (
        client.post(f"/numbers/{number.pk}/messaging-limit/", {"tier": "TIER_10K"}).status_code
        == 302
    )
    assert client.post(f"/numbers/{number.pk}/quality/", {"rating": "RED"}).status_code == 302
    page = client.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "limit-tier") == ["TIER_10K"] and "of 10000 unique" in page
    assert by_testid(page, "quality-rating") == ["RED"] and "not upgraded" in page
    bad = client.post(f"/numbers/{number.pk}/quality/", {"rating": "BLUE"})
    assert bad.status_code == 200 and "rating must be one of" in bad.content.decode()
    bad = client.post(f"/numbers/{number.pk}/messaging-limit/", {"tier": "TIER_1"})
    assert bad.status_code == 200 and "tier must be one of" in bad.content.decode()
    assert AuditEntry.objects.filter(action="number.quality_changed").count() == 1
    assert AuditEntry.objects.filter(action="business.messaging_limit_changed").count() == 1
    # A developer sees the card without its controls, and cannot post them.
    developer = console_client.as_(factory.staff(business, "developer"))
    page = developer.get(f"/numbers/{number.pk}/").content.decode()
    assert by_testid(page, "quality-rating") == ["RED"]
    assert 'data-testid="quality-form"' not in page and 'data-testid="limit-form"' not in page
    assert developer.post(f"/numbers/{number.pk}/quality/", {"rating": "GREEN"}).status_code == 403
    assert (
        developer.post(f"/numbers/{number.pk}/messaging-limit/", {"tier": "TIER_2K"}).status_code
        == 403
    )
    # Another tenant's number is not found.
    other = console_client.as_(factory.staff(factory.business("Other"), "administrator"))
    assert other.post(f"/numbers/{number.pk}/quality/", {"rating": "GREEN"}).status_code == 404
