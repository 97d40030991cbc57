"""Request bodies and response shapes of the phone-number endpoints (Cloud API fields)."""

from __future__ import annotations

from typing import Any

import phonenumbers
from rest_framework import serializers

from parley.accounts.actions.numbers import display_number
from parley.accounts.models import Business, PhoneNumber
from parley.messaging.tiers import legacy_name


class RequestCodeIn(serializers.Serializer[Any]):
    code_method = serializers.ChoiceField(choices=["SMS", "VOICE"])
    language = serializers.RegexField(r"^[a-z]{2,3}(_[A-Z]{2})?$", max_length=16, default="en_US")


class VerifyCodeIn(serializers.Serializer[Any]):
    # ASCII digits only: `\d` also matches other scripts' digits.
    code = serializers.RegexField(r"^[0-9]{6}$", error_messages={"invalid": "must be 6 digits"})


class RegisterNumberIn(serializers.Serializer[Any]):
    messaging_product = serializers.ChoiceField(choices=["whatsapp"])
    pin = serializers.RegexField(r"^[0-9]{6}$", error_messages={"invalid": "must be 6 digits"})


class DeregisterIn(serializers.Serializer[Any]):
    pass


class ThroughputIn(serializers.Serializer[Any]):
    level = serializers.ChoiceField(choices=PhoneNumber.Throughput.choices)


class MessagingLimitIn(serializers.Serializer[Any]):
    tier = serializers.ChoiceField(choices=Business.MessagingLimit.choices)


class QualityIn(serializers.Serializer[Any]):
    rating = serializers.ChoiceField(choices=PhoneNumber.Quality.choices)


class SuccessOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()


def phone_number_node(number: PhoneNumber) -> dict[str, Any]:
    return {
        "verified_name": number.display_name,
        # Meta's description knows two values: VERIFIED and UNVERIFIED (not yet, or expired).
        "code_verification_status": (
            "VERIFIED"
            if number.code_verification_status == PhoneNumber.CodeStatus.VERIFIED
            else "UNVERIFIED"
        ),
        "display_phone_number": display_number(number.e164),
        "quality_rating": number.quality_rating,
        "platform_type": "CLOUD_API" if number.status == "CONNECTED" else "NOT_APPLICABLE",
        "throughput": {"level": number.throughput_level},
        # The portfolio's messaging limit: in the v23.0 field's enumeration (TIER_2K shows
        # as TIER_1K there), and exactly in the field Meta now asks for instead.
        "messaging_limit_tier": legacy_name(number.business.messaging_limit_tier),
        "whatsapp_business_manager_messaging_limit": number.business.messaging_limit_tier,
        "status": number.status,
        "is_official_business_account": number.official_verification == "verified",
        "official_business_account_status": number.official_verification,
        "country": number.country,
        "id": str(number.pk),
    }


# A number's link to the business account, as the account's phone_numbers edge names it.
LINK_STATUS = {
    PhoneNumber.Status.PENDING: "PENDING",
    PhoneNumber.Status.CONNECTED: "LINKED",
    PhoneNumber.Status.DISCONNECTED: "UNLINKED",
}


def phone_number_item(number: PhoneNumber) -> dict[str, Any]:
    """One row of GET /{waba_id}/phone_numbers: the number's node, with its link status and
    its country as the edge describes them."""
    region = phonenumbers.parse(number.e164, None)
    return {
        **phone_number_node(number),
        "status": LINK_STATUS.get(PhoneNumber.Status(number.status), "PENDING"),
        "country_code": number.country,
        "country_dial_code": str(region.country_code),
    }


def business_node(business: Business) -> dict[str, Any]:
    return {
        "id": str(business.pk),
        "name": business.name,
        "currency": business.currency,
        "country": business.country,
        "timezone_id": "0",
        "message_template_namespace": f"parley_{business.slug}",
        "whatsapp_business_manager_messaging_limit": business.messaging_limit_tier,
    }


class ThroughputOut(serializers.Serializer[Any]):
    level = serializers.CharField()


class PhoneNumberOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    verified_name = serializers.CharField()
    display_phone_number = serializers.CharField()
    code_verification_status = serializers.CharField()
    quality_rating = serializers.ChoiceField(choices=PhoneNumber.Quality.choices)
    platform_type = serializers.CharField()
    throughput = ThroughputOut()
    messaging_limit_tier = serializers.ChoiceField(
        choices=["TIER_50", "TIER_250", "TIER_1K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"],
        help_text="The business portfolio's messaging limit as Graph v23.0 enumerates it "
        "(deprecated by Meta; a 2,000 limit shows as TIER_1K).",
    )
    whatsapp_business_manager_messaging_limit = serializers.ChoiceField(
        choices=Business.MessagingLimit.choices,
        help_text="The business portfolio's messaging limit: unique customers reached with "
        "business-initiated messages in a moving 24 hours.",
    )
    status = serializers.CharField()
    is_official_business_account = serializers.BooleanField()
    official_business_account_status = serializers.CharField()
    country = serializers.CharField()


class PhoneNumberItemOut(PhoneNumberOut):
    country_code = serializers.CharField()
    country_dial_code = serializers.CharField()


class BusinessOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()
    country = serializers.CharField()
    timezone_id = serializers.CharField()
    message_template_namespace = serializers.CharField()
    whatsapp_business_manager_messaging_limit = serializers.ChoiceField(
        choices=Business.MessagingLimit.choices
    )
