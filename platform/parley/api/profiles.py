"""A number's WhatsApp business profile on the Cloud API paths:

    GET  /{version}/{phone_number_id}/whatsapp_business_profile?fields=about,email,…
         {"data": [{"messaging_product": "whatsapp", …the requested fields that are set…}]}
    POST /{version}/{phone_number_id}/whatsapp_business_profile
         {"messaging_product": "whatsapp", about?, address?, description?, email?,
          vertical?, websites?, profile_picture_handle?}  ->  {"success": true}
    GET  /parley/v1/numbers/{number_id}/profile_picture
         the picture's bytes (the profile's `profile_picture_url`), with the same token

Without `fields` every field is asked for (Meta's default list); fields that are not set
are left out. `profile_picture_handle` is the id of a JPEG or PNG uploaded with
`POST /{phone_number_id}/media` (Parley has no Resumable Upload API)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.actions.profiles import (
    MAX_WEBSITE_CHARS,
    MAX_WEBSITES,
    TEXT_LIMITS,
    do_update_business_profile,
)
from parley.accounts.models import BusinessProfile, PhoneNumber
from parley.accounts.roles import Capability
from parley.accounts.selectors import (
    business_profile_fields,
    get_business_profile,
    read_profile_picture,
)
from parley.api.base import ApiView
from parley.api.permissions import capability
from parley.api.views import NUMBER_ID, CloudApiView, _client, _number, _version_parameter
from parley.core.errors import InvalidParameter, NotFound
from parley.core.http import client_address

# Meta's default and available fields, in its order.
FIELDS = (
    "messaging_product",
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
)
_FIELD = "|".join(FIELDS)
# Empty (`fields=`) asks for the default list, as no `fields` does.
FIELDS_PATTERN = rf"^( *({_FIELD}) *(, *({_FIELD}) *)*)?$"


class HttpUrlField(serializers.URLField):
    """A URL with the http or https scheme (Django's URLField also takes ftp)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(
                r"^[Hh][Tt][Tt][Pp][Ss]?://", "Enter a URL starting with http:// or https://."
            )
        )


class BusinessProfileIn(serializers.Serializer[Any]):
    messaging_product = serializers.ChoiceField(choices=["whatsapp"])
    about = serializers.CharField(min_length=1, max_length=TEXT_LIMITS["about"], required=False)
    address = serializers.CharField(
        max_length=TEXT_LIMITS["address"], required=False, allow_blank=True
    )
    description = serializers.CharField(
        max_length=TEXT_LIMITS["description"], required=False, allow_blank=True
    )
    email = serializers.EmailField(
        max_length=TEXT_LIMITS["email"], required=False, allow_blank=True
    )
    vertical = serializers.ChoiceField(choices=BusinessProfile.Vertical.choices, required=False)
    websites = serializers.ListField(
        child=HttpUrlField(max_length=MAX_WEBSITE_CHARS),
        max_length=MAX_WEBSITES,
        required=False,
        help_text="Up to 2 http(s) URLs; [] removes them.",
    )
    profile_picture_handle = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The id of a JPEG or PNG uploaded with POST /{phone_number_id}/media "
        "(Parley's stand-in for the Resumable Upload API's handle); \"\" removes the picture.",
    )


class BusinessProfileOut(serializers.Serializer[Any]):
    messaging_product = serializers.ChoiceField(choices=["whatsapp"])
    about = serializers.CharField(required=False)
    address = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    email = serializers.EmailField(required=False)
    profile_picture_url = serializers.URLField(
        required=False, help_text="Fetch it with the same token."
    )
    websites = serializers.ListField(child=serializers.URLField(), required=False)
    vertical = serializers.ChoiceField(choices=BusinessProfile.Vertical.choices, required=False)


# `data` is a Serializer attribute: the envelope is declared inline.
BusinessProfileListOut = inline_serializer(
    "BusinessProfileListOut", fields={"data": BusinessProfileOut(many=True)}
)


class SuccessOut(serializers.Serializer[Any]):
    success = serializers.BooleanField()


def requested_fields(request: Request) -> list[str]:
    """The `fields` asked for (Meta's default list when absent); an unknown one is code 100."""
    raw = request.query_params.get("fields")
    if raw is None or not raw.strip():
        return list(FIELDS)
    asked = [f.strip() for f in raw.split(",")]
    for name in asked:
        if name not in FIELDS:
            raise InvalidParameter(
                f"(#100) Tried accessing nonexisting field ({name[:60]}) on node type "
                "(WhatsAppBusinessProfile)",
                field="fields",
            )
    return asked


def picture_url(request: Request, number: PhoneNumber, profile: BusinessProfile) -> str:
    # The digest in the query: a new picture is a new URL (caches keep the old one apart).
    path = f"/parley/v1/numbers/{number.pk}/profile_picture?v={profile.profile_picture_sha256[:16]}"
    return request.build_absolute_uri(path)


def profile_item(
    request: Request, number: PhoneNumber, profile: BusinessProfile, fields: list[str]
) -> dict[str, Any]:
    values = business_profile_fields(profile)
    if profile.profile_picture_name:
        values["profile_picture_url"] = picture_url(request, number, profile)
    item: dict[str, Any] = {"messaging_product": "whatsapp"}
    for name in FIELDS:
        if name in fields and name in values:
            item[name] = values[name]
    return item


class BusinessProfileView(CloudApiView):
    """GET and POST /{version}/{phone_number_id}/whatsapp_business_profile"""

    pagination_class = None

    def get_permissions(self) -> list[BasePermission]:
        # Reading needs "See business numbers"; changing, "Register business numbers".
        reading = self.request.method in ("GET", "HEAD", "OPTIONS")
        needed = Capability.VIEW_NUMBERS if reading else Capability.MANAGE_NUMBERS
        return [capability(needed)()]

    @extend_schema(
        summary="Read a number's business profile",
        description="Fields not set are left out; `messaging_product` is always there.",
        parameters=[
            _version_parameter(),
            NUMBER_ID,
            OpenApiParameter(
                "fields",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                pattern=FIELDS_PATTERN,
                description="Comma-separated: " + ", ".join(FIELDS) + " (default: all).",
            ),
        ],
        responses=BusinessProfileListOut,
    )
    def get(self, request: Request, version: str, number_id: str) -> Response:
        number = _number(_client(request), number_id)
        fields = requested_fields(request)
        profile = get_business_profile(number)
        return Response({"data": [profile_item(request, number, profile, fields)]})

    @extend_schema(
        summary="Update a number's business profile",
        description="Sets the fields sent; the others keep their values.",
        parameters=[_version_parameter(), NUMBER_ID],
        request=BusinessProfileIn,
        responses=SuccessOut,
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        data = self.valid(BusinessProfileIn, request)
        number = _number(client, number_id)
        changes = {k: v for k, v in data.items() if k != "messaging_product"}
        do_update_business_profile(
            client.business,
            number.pk,
            changes,
            actor_label=client.label,
            ip_address=client_address(request),
        )
        return Response({"success": True})


class ProfilePictureView(ApiView):
    """GET /parley/v1/numbers/{number_id}/profile_picture: the picture's bytes."""

    permission_classes = [capability(Capability.VIEW_NUMBERS)]
    pagination_class = None

    @extend_schema(
        summary="Download a number's profile picture (its profile's `profile_picture_url`)",
        parameters=[
            NUMBER_ID,
            OpenApiParameter(
                "v",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="From the profile's profile_picture_url (ignored: the current "
                "picture is answered).",
            ),
        ],
        responses={(200, "*/*"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, number_id: str) -> HttpResponse:
        number = _number(_client(request), number_id)
        picture = read_profile_picture(get_business_profile(number))
        if picture is None:
            raise NotFound(f"Unsupported request - number {number.pk} has no profile picture.")
        content, mime_type = picture
        response = HttpResponse(content, content_type=mime_type)
        response["Content-Length"] = str(len(content))
        response["Cache-Control"] = "private, max-age=300"
        return response
