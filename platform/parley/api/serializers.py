"""Request bodies and response shapes of the phone-number endpoints (Cloud API fields)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from parley.accounts.actions.numbers import display_number
from parley.accounts.models import Business, PhoneNumber


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


class SuccessOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()


def phone_number_node(number: PhoneNumber) -> dict[str, Any]:
    return {
        "verified_name": number.display_name,
        "code_verification_status": number.code_verification_status,
        "display_phone_number": display_number(number.e164),
        "quality_rating": number.quality_rating,
        "platform_type": "CLOUD_API" if number.status == "CONNECTED" else "NOT_APPLICABLE",
        "throughput": {"level": "STANDARD"},
        "status": number.status,
        "is_official_business_account": number.official_verification == "verified",
        "official_business_account_status": number.official_verification,
        "country": number.country,
        "id": str(number.pk),
    }


def business_node(business: Business) -> dict[str, Any]:
    return {
        "id": str(business.pk),
        "name": business.name,
        "currency": business.currency,
        "country": business.country,
        "timezone_id": "0",
        "message_template_namespace": f"parley_{business.slug}",
    }


class ThroughputOut(serializers.Serializer[Any]):
    level = serializers.CharField()


class PhoneNumberOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    verified_name = serializers.CharField()
    display_phone_number = serializers.CharField()
    code_verification_status = serializers.CharField()
    quality_rating = serializers.CharField()
    platform_type = serializers.CharField()
    throughput = ThroughputOut()
    status = serializers.CharField()
    is_official_business_account = serializers.BooleanField()
    official_business_account_status = serializers.CharField()
    country = serializers.CharField()


class BusinessOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()
    currency = serializers.CharField()
    country = serializers.CharField()
    timezone_id = serializers.CharField()
    message_template_namespace = serializers.CharField()
