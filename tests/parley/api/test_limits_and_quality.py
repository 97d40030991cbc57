"""The phone-number node's messaging limit and quality rating, and the simulator's
endpoints that set them (Meta's error envelope, tenants kept apart)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from parley.accounts.actions.tokens import do_create_api_token
from parley.accounts.models import AuditEntry, PhoneNumber
from parley.core.models import StreamEntry
from tests.parley.api.test_tokens_and_envelope import api, assert_envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(number: PhoneNumber, factory: Any) -> str:
    return do_create_api_token(factory.staff(number.business, "administrator"), name="a").secret


def node(client: Client, secret: str, number: PhoneNumber) -> dict[str, Any]:
    response = api(client, secret, "get", f"/v23.0/{number.pk}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_the_node_and_the_list_carry_the_limit_and_the_quality(
    client: Client, admin: str, number: PhoneNumber
) -> None:
    shown = node(client, admin, number)
    assert shown["messaging_limit_tier"] == "TIER_250"
    assert shown["whatsapp_business_manager_messaging_limit"] == "TIER_250"
    assert shown["quality_rating"] == "GREEN"

    waba = number.business_id
    set_tier = api(client, admin, "post", f"/parley/v1/simulator/businesses/{waba}/messaging_limit",
                   {"tier": "TIER_2K"})  # fmt: skip
    assert set_tier.status_code == 200, set_tier.content
    assert set_tier.json()["whatsapp_business_manager_messaging_limit"] == "TIER_2K"
    shown = node(client, admin, number)
    # Graph v23.0 enumerates no TIER_2K for the deprecated field: the 2,000 tier shows there
    # as TIER_1K, exactly in the field Meta asks for now.
    assert shown["messaging_limit_tier"] == "TIER_1K"
    assert shown["whatsapp_business_manager_messaging_limit"] == "TIER_2K"
    audit = AuditEntry.objects.get(action="business.messaging_limit_changed")
    assert audit.details == {"tier": "TIER_2K", "previous": "TIER_250"}

    rated = api(client, admin, "post", f"/parley/v1/simulator/numbers/{number.pk}/quality",
                {"rating": "YELLOW"})  # fmt: skip
    assert rated.status_code == 200, rated.content
    assert rated.json()["quality_rating"] == "YELLOW"
    event = StreamEntry.objects.get(name="number.quality_changed")
    assert event.payload["quality_rating"] == "YELLOW" and event.payload["number_id"] == number.pk

    listed = api(client, admin, "get", f"/v23.0/{waba}/phone_numbers").json()["data"]
    assert [(n["id"], n["quality_rating"], n["messaging_limit_tier"],
             n["whatsapp_business_manager_messaging_limit"]) for n in listed] == [
        (str(number.pk), "YELLOW", "TIER_1K", "TIER_2K")]  # fmt: skip

    api(client, admin, "post", f"/parley/v1/simulator/businesses/{waba}/messaging_limit",
        {"tier": "TIER_UNLIMITED"})  # fmt: skip
    assert node(client, admin, number)["messaging_limit_tier"] == "TIER_UNLIMITED"


def test_the_simulator_endpoints_refuse_bad_values_other_tenants_and_scopes(
    client: Client, admin: str, number: PhoneNumber, factory: Any
) -> None:
    waba = number.business_id
    limit_path = f"/parley/v1/simulator/businesses/{waba}/messaging_limit"
    quality_path = f"/parley/v1/simulator/numbers/{number.pk}/quality"
    for path, body in [(limit_path, {"tier": "TIER_1K"}), (limit_path, {}),
                       (limit_path, {"tier": 250}), (quality_path, {"rating": "NA"}),
                       (quality_path, {"rating": "green"}), (quality_path, [])]:  # fmt: skip
        error = assert_envelope(api(client, admin, "post", path, body), 400, 100)
        assert error["message"]

    stranger = factory.business("Elsewhere", country="US")
    theirs = PhoneNumber.objects.create(
        business=stranger, e164="+14155550999", country="US", display_name="Elsewhere",
        created_at=number.created_at,
    )  # fmt: skip
    assert_envelope(api(client, admin, "post",
                        f"/parley/v1/simulator/businesses/{stranger.pk}/messaging_limit",
                        {"tier": "TIER_2K"}), 404, 100)  # fmt: skip
    assert_envelope(api(client, admin, "post", f"/parley/v1/simulator/numbers/{theirs.pk}/quality",
                        {"rating": "RED"}), 404, 100)  # fmt: skip
    developer = do_create_api_token(factory.staff(number.business, "developer"), name="d").secret
    assert_envelope(api(client, developer, "post", limit_path, {"tier": "TIER_2K"}), 403, 10)
    assert_envelope(api(client, developer, "post", quality_path, {"rating": "RED"}), 403, 10)

    stranger.refresh_from_db()
    theirs.refresh_from_db()
    number.refresh_from_db()
    assert stranger.messaging_limit_tier == "TIER_250" and theirs.quality_rating == "GREEN"
    assert number.business.messaging_limit_tier == "TIER_250"
    assert number.quality_rating == "GREEN"
    assert not StreamEntry.objects.filter(name="number.quality_changed").exists()
