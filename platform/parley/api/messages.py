"""POST /{version}/{phone_number_id}/messages: send a message, or mark one read, as the
Cloud API does. A 200 means accepted, never delivered: what happens next (sent, delivered,
read, or failed with 131047 outside the service window, 131026 for a number not on the
platform) arrives as statuses on the message's lifecycle."""

from __future__ import annotations

import dataclasses
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.actions.numbers import parse_e164
from parley.accounts.models import PhoneNumber
from parley.accounts.roles import Capability
from parley.api.message_wire import ReadRequest, SendRequest, parse_message_request, structure
from parley.api.permissions import capability
from parley.api.views import NUMBER_ID, CloudApiView, _client, _number, _version_parameter
from parley.core.errors import InvalidParameter, MessagingError
from parley.core.ids import business_scoped_user_id
from parley.media.actions import do_prepare_media
from parley.message_templates.sending import resolve_template_object
from parley.messaging import limits, selectors
from parley.messaging.actions import do_mark_read_through, do_send_message
from parley.messaging.content import Content, Reaction


class _ContactOut(serializers.Serializer[Any]):
    input = serializers.CharField()
    wa_id = serializers.CharField(required=False, help_text="When sent by phone number.")
    user_id = serializers.CharField(help_text="The customer's business-scoped user id.")


class _MessageIdOut(serializers.Serializer[Any]):
    id = serializers.CharField()
    message_status = serializers.CharField(required=False)


class SendMessageOut(serializers.Serializer[Any]):
    messaging_product = serializers.CharField()
    contacts = _ContactOut(many=True)
    messages = _MessageIdOut(many=True)


def wa_id(e164: str) -> str:
    """The platform's id of a WhatsApp user: the number's digits, without the plus."""
    return e164.lstrip("+")


def _contact(parsed: SendRequest, number: PhoneNumber, customer: str) -> dict[str, str]:
    """Who the message went to: by phone number, its wa_id and user id; by user id, that
    alone (the phone number stays unknown to the business)."""
    user_id = business_scoped_user_id(number.business_id, customer)
    if parsed.recipient:
        return {"input": parsed.recipient, "user_id": user_id}
    return {"input": parsed.to, "wa_id": wa_id(customer), "user_id": user_id}


def _registered(number: PhoneNumber) -> None:
    if number.status != PhoneNumber.Status.CONNECTED:
        raise MessagingError(
            133010,
            "Account not registered",
            f"The phone number {number.e164} is not registered: register it "
            "(POST /{version}/{phone_number_id}/register) before sending.",
        )


def _customer(parsed: SendRequest, number: PhoneNumber) -> str:
    if parsed.recipient:
        found = selectors.get_customer_by_user_id(number.business, parsed.recipient)
        if found is None:
            raise MessagingError(
                100,
                "Invalid parameter",
                f"Param recipient {parsed.recipient} is not a user of this business.",
            )
        return found
    try:
        customer, _ = parse_e164(parsed.to)
    except InvalidParameter as exc:
        raise structure(f"Param to is not a valid phone number: {exc.message}") from exc
    if customer == number.e164:
        raise MessagingError(131021, "Recipient cannot be sender",
                             "Sender and recipient phone number is the same.")  # fmt: skip
    return customer


def _content(request: SendRequest, number: PhoneNumber, customer: str) -> Content:
    if request.media is not None:
        return do_prepare_media(number.business, request.media)
    if request.content is None:
        assert request.template is not None
        return resolve_template_object(number.business, request.template)
    if isinstance(request.content, Reaction):
        target = selectors.get_number_message(number, request.content.message_id)
        if target is None or target.conversation.customer != customer:
            raise MessagingError(
                131009,
                "Parameter value is not valid",
                f"Message {request.content.message_id[:128]} is not a message of the "
                f"conversation with {customer}: a reaction names one.",
            )
    return request.content


@dataclasses.dataclass(frozen=True)
class PreparedSend:
    """A send request checked against the number: what to accept, and how to answer."""

    number: PhoneNumber
    request: SendRequest
    customer: str
    content: Content
    reply_to: str

    def answer(self, wamid: str) -> dict[str, Any]:
        """The Cloud API's answer once the message is accepted as `wamid`."""
        sent: dict[str, str] = {"id": wamid}
        if self.content.type == "template":
            sent["message_status"] = "accepted"
        return {
            "messaging_product": "whatsapp",
            "contacts": [_contact(self.request, self.number, self.customer)],
            "messages": [sent],
        }


def prepare_send(number: PhoneNumber, parsed: SendRequest) -> PreparedSend:
    """Everything a send is checked for before it is counted and accepted (raises the
    Cloud API's error)."""
    _registered(number)
    customer = _customer(parsed, number)
    content = _content(parsed, number, customer)
    reply_to = selectors.get_replied_wamid(number, parsed.reply_to)
    return PreparedSend(number, parsed, customer, content, reply_to)


class MessagesView(CloudApiView):
    permission_classes = [capability(Capability.SEND_MESSAGES)]

    @extend_schema(
        summary="Send a message, or mark one read",
        description=(
            "The Cloud API's send: `text`, `template`, `interactive` (button, list, "
            "cta_url), `location`, `contacts`, `reaction` and media (`image`, `audio`, "
            "`video`, `document`, `sticker`: an uploaded media `id` or an http(s) `link` "
            "Parley fetches at once, 131053 when it cannot), each with an optional reply "
            '`context`; or `{"status": "read", "message_id"}` to mark a customer\'s message '
            "(and the earlier ones) read. Accepted is not delivered: statuses follow."
        ),
        parameters=[_version_parameter(), NUMBER_ID],
        request=OpenApiTypes.OBJECT,
        responses=SendMessageOut,
        examples=[
            OpenApiExample(
                "Text",
                request_only=True,
                value={
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": "+16505551234",
                    "type": "text",
                    "text": {"preview_url": False, "body": "Your parcel has shipped."},
                },
            ),
            OpenApiExample(
                "Mark read",
                request_only=True,
                value={
                    "messaging_product": "whatsapp",
                    "status": "read",
                    "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJC",
                },
            ),
        ],
    )
    def post(self, request: Request, version: str, number_id: str) -> Response:
        client = _client(request)
        number = _number(client, number_id)
        parsed = parse_message_request(request.data)
        if isinstance(parsed, ReadRequest):
            return self._mark_read(number, parsed)
        send = prepare_send(number, parsed)
        limits.take_send(number, send.customer)
        message = do_send_message(number, send.customer, send.content, reply_to=send.reply_to)
        return Response(send.answer(message.wamid))

    def _mark_read(self, number: PhoneNumber, parsed: ReadRequest) -> Response:
        message = selectors.get_number_message(number, parsed.message_id)
        if message is None or message.direction != message.Direction.INBOUND:
            raise MessagingError(
                100,
                "Invalid parameter",
                f"Message {parsed.message_id[:128]} is not a message this number received.",
            )
        do_mark_read_through(message, typing=parsed.typing)
        return Response({"success": True})
