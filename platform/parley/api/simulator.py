"""Simulated customers a developer drives (Parley's own endpoints, not Meta's):

    GET    /parley/v1/simulator/customers                         list (paged)
    POST   /parley/v1/simulator/customers                         create a customer's phone
    GET    /parley/v1/simulator/customers/{phone_number}          one customer
    PATCH  /parley/v1/simulator/customers/{phone_number}          online/offline, read delay
    POST   /parley/v1/simulator/customers/{phone_number}/messages the customer sends
    POST   /parley/v1/simulator/customers/{phone_number}/read     the customer opens the chats
    GET    /parley/v1/simulator/customers/{phone_number}/inbox    what the phone shows
    GET    /parley/v1/simulator/fault-numbers                     numbers with built-in behaviour

Each customer is a handset of the fleet, owned by the token's business; everything it does
goes through the fleet and the relay, encrypted, as a phone would. Without a running fleet
the operations that need it answer 503 in Meta's envelope. Thin: parse, authorise, call one
action or selector (`e2ee.handsets.customers`), render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from e2ee.handsets import customers, faults
from parley.accounts.roles import Capability
from parley.api.auth import BearerTokenAuthentication
from parley.api.base import ApiView, query_text
from parley.api.permissions import business_of, capability
from parley.api.schema import ErrorEnvelope

PHONE_PATTERN = r"^\+?[0-9]{1,20}$"

FLEET_DOWN = OpenApiResponse(
    ErrorEnvelope,
    description="The handset fleet is not running (or cannot reach the relay): code 2.",
)

PHONE_NUMBER = OpenApiParameter(
    "phone_number",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=PHONE_PATTERN,
    description="The customer's number in E.164 (the leading + is optional).",
)


# -- shapes --------------------------------------------------------------------------------


class CustomerOut(serializers.Serializer[Any]):
    phone_number = serializers.CharField(help_text="E.164, e.g. +919820012345.")
    wa_id = serializers.CharField(help_text="The number without its +.")
    country = serializers.CharField(help_text="ISO 3166 country of the number.")
    language = serializers.CharField(help_text="The phone's language, e.g. en_US.")
    online = serializers.BooleanField()
    blocks_businesses = serializers.BooleanField(help_text="The customer blocked businesses.")
    read_delay_seconds = serializers.FloatField(
        allow_null=True, help_text="Simulated seconds before the user reads a message by itself."
    )
    created_at = serializers.DateTimeField()
    typing = serializers.ListField(
        child=serializers.CharField(),
        help_text="Business numbers whose typing indicator the phone shows now (25 s of "
        "simulated time after a mark-as-read with `typing_indicator`, or until their message "
        "arrives).",
    )


class CustomerCreateIn(serializers.Serializer[Any]):
    phone_number = serializers.CharField(max_length=40, help_text="The customer's number.")
    language = serializers.RegexField(
        customers.LANGUAGE_PATTERN, max_length=15, required=False, help_text="e.g. en_US"
    )
    online = serializers.BooleanField(required=False, default=True)
    read_delay_seconds = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=customers.MAX_READ_DELAY_SECONDS,
    )


class CustomerUpdateIn(serializers.Serializer[Any]):
    online = serializers.BooleanField(required=False)
    blocks_businesses = serializers.BooleanField(
        required=False,
        help_text="The customer blocks (true) or unblocks businesses: their messages then "
        "fail with 131026, and each number that wrote to the customer in the last 7 days "
        "counts the block against its quality rating.",
    )
    read_delay_seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=customers.MAX_READ_DELAY_SECONDS
    )


class ReplyTap(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The button's or row's id.")
    title = serializers.CharField(help_text="The button's or row's title.")


class SuggestionTap(serializers.Serializer[Any]):
    text = serializers.CharField(required=False, help_text="The chip's text.")
    postback = serializers.CharField(help_text="The suggestion's postback data.")


class _MessageFields(serializers.Serializer[Any]):
    to = serializers.CharField(help_text="One of the business's numbers (E.164).")
    type = serializers.ChoiceField(choices=list(customers.MESSAGE_TYPES))
    text = serializers.DictField(required=False, help_text='{"body": "…"}')
    button_reply = ReplyTap(required=False)
    list_reply = ReplyTap(required=False)
    suggested_reply = SuggestionTap(required=False)
    action_tap = SuggestionTap(required=False)
    location = serializers.DictField(
        required=False, help_text="{latitude, longitude, name?, address?}"
    )
    contacts = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="[{name, phones: [..]}]"
    )
    reaction = serializers.DictField(required=False, help_text="{message_id: wamid, emoji}")
    file = serializers.DictField(
        required=False, help_text="{data: base64, file_name, mime_type, caption?}"
    )
    referral = serializers.DictField(
        required=False,
        help_text="With a text: the click-to-WhatsApp ad the customer tapped, in Meta's "
        "`referral` shape {source_url, source_id, source_type: ad|post, headline?, body?, "
        "media_type?: image|video, image_url?, video_url?, thumbnail_url?, ctwa_clid?}; the "
        "business's webhook carries it.",
    )


# `context` and `data` are names the Serializer class uses itself: declared by type().
CustomerMessageIn: Any = type(
    "CustomerMessageIn",
    (_MessageFields,),
    {
        "__doc__": "The shapes; `e2ee.handsets.customers` validates them (one place for the "
        "API, the command and the console).",
        "__module__": __name__,
        "context": serializers.DictField(
            required=False, help_text='{"message_id": wamid} of the message a text replies to.'
        ),
    },
)


class SentOut(serializers.Serializer[Any]):
    guids = serializers.ListField(
        child=serializers.CharField(), help_text="The relay envelopes that carried it."
    )


class _InboxItemFields(serializers.Serializer[Any]):
    direction = serializers.ChoiceField(choices=["in", "out"])
    peer = serializers.CharField(help_text="The business number of the chat.")
    guid = serializers.CharField()
    kind = serializers.CharField(help_text="text, media, location, interactive, template, …")
    body = serializers.CharField(help_text="The text the phone shows.")
    status = serializers.CharField()
    client_timestamp = serializers.IntegerField()
    attachment = serializers.DictField(allow_null=True, help_text="Structured content, if any.")


InboxItemOut: Any = type(
    "InboxItemOut",
    (_InboxItemFields,),
    {"__module__": __name__, "context": serializers.DictField(allow_null=True)},
)
InboxOut: Any = type(
    "InboxOut", (serializers.Serializer,), {"__module__": __name__, "data": InboxItemOut(many=True)}
)


class FaultNumberOut(serializers.Serializer[Any]):
    phone_number = serializers.CharField(help_text="E.164.")
    wa_id = serializers.CharField()
    behaviour = serializers.ChoiceField(choices=[f.behaviour for f in faults.FAULT_NUMBERS])
    title = serializers.CharField()
    outcome = serializers.CharField(help_text="What the business sees when it messages it.")


FaultNumbersOut: Any = type(
    "FaultNumbersOut",
    (serializers.Serializer,),
    {"__module__": __name__, "data": FaultNumberOut(many=True)},
)


# -- views ---------------------------------------------------------------------------------


class SimulatorView(ApiView):
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [capability(Capability.DRIVE_CUSTOMERS)]


class CustomersView(SimulatorView):
    error_statuses = (409,)

    @extend_schema(
        summary="List the business's simulated customers", responses=CustomerOut(many=True)
    )
    def get(self, request: Request) -> Response:
        page, paginator = self.paginate(customers.list_customers(business_of(request)), request)
        return paginator.get_paginated_response(
            [c.to_dict() for c in customers.customers_of(list(page))]
        )

    @extend_schema(
        summary="Create a simulated customer (a phone of the handset fleet)",
        request=CustomerCreateIn,
        responses={201: CustomerOut, 503: FLEET_DOWN},
    )
    def post(self, request: Request) -> Response:
        data = self.valid(CustomerCreateIn, request)
        row = customers.do_create_customer(
            business_of(request),
            data["phone_number"],
            language=data.get("language"),
            online=data["online"],
            read_delay_seconds=data["read_delay_seconds"],
        )
        return Response(customers.customer_of(row).to_dict(), status=201)


class CustomerView(SimulatorView):
    @extend_schema(summary="Read a simulated customer", parameters=[PHONE_NUMBER],
                   responses=CustomerOut)  # fmt: skip
    def get(self, request: Request, phone_number: str) -> Response:
        row = customers.get_customer(business_of(request), phone_number)
        return Response(customers.customer_of(row).to_dict())

    @extend_schema(
        summary="Take a customer's phone on- or offline, set its read delay",
        parameters=[PHONE_NUMBER],
        request=CustomerUpdateIn,
        responses={200: CustomerOut, 503: FLEET_DOWN},
    )
    def patch(self, request: Request, phone_number: str) -> Response:
        business = business_of(request)
        customers.get_customer(business, phone_number)  # 404 before the body is judged
        data = self.valid(CustomerUpdateIn, request)
        row = customers.do_update_customer(
            business,
            phone_number,
            online=data.get("online"),
            read_delay_seconds=data.get("read_delay_seconds", ...),
            blocks_businesses=data.get("blocks_businesses"),
        )
        return Response(customers.customer_of(row).to_dict())


class CustomerMessagesView(SimulatorView):
    @extend_schema(
        summary="The customer sends a message to one of the business's numbers",
        parameters=[PHONE_NUMBER],
        request=CustomerMessageIn,
        responses={201: SentOut, 503: FLEET_DOWN},
    )
    def post(self, request: Request, phone_number: str) -> Response:
        business = business_of(request)
        customers.get_customer(business, phone_number)  # 404 before the body is judged
        self.valid(CustomerMessageIn, request)
        guids = customers.do_send_as_customer(business, phone_number, dict(request.data))
        return Response({"guids": guids}, status=201)


class CustomerReadView(SimulatorView):
    @extend_schema(
        summary="The customer opens the chats: read receipts for what arrived",
        parameters=[PHONE_NUMBER],
        request=None,
        responses={200: SentOut, 503: FLEET_DOWN},
    )
    def post(self, request: Request, phone_number: str) -> Response:
        guids = customers.do_read_as_customer(business_of(request), phone_number)
        return Response({"guids": guids})


class CustomerInboxView(SimulatorView):
    @extend_schema(
        summary="What the customer's phone shows (decrypted on the phone), oldest first",
        parameters=[
            PHONE_NUMBER,
            OpenApiParameter(
                "peer",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                pattern=PHONE_PATTERN,
                description="Only the chat with this business number.",
            ),
        ],
        responses={200: InboxOut, 503: FLEET_DOWN},
    )
    def get(self, request: Request, phone_number: str) -> Response:
        # An unencoded + arrives as a space.
        peer = query_text(request, "peer", r"[+ ]?[0-9]{1,20}", hint="must be a phone number")
        items = customers.get_customer_inbox(
            business_of(request), phone_number, peer=peer.strip() or None
        )
        return Response({"data": items})


class FaultNumbersView(SimulatorView):
    @extend_schema(
        summary="Customer numbers with built-in behaviour, for testing error paths",
        responses=FaultNumbersOut,
    )
    def get(self, request: Request) -> Response:
        business_of(request)
        return Response({"data": faults.list_fault_numbers()})
