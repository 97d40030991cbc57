"""The relay's HTTP API for Signal clients (handsets and business endpoints). Thin: parse,
authenticate the device, call one action or selector, render."""

from __future__ import annotations

import datetime as dt
import re
from typing import cast

from django.http import HttpRequest, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from parley.accounts.actions.tokens import authenticate_api_token
from parley.accounts.models import Business
from parley.accounts.roles import Capability
from parley.api.base import ApiView, query_int, valid
from parley.api.errors import envelope
from parley.core import ratelimit
from parley.core.errors import (
    AuthenticationFailed,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)
from parley.core.http import client_address
from parley.relay import conf, handlers
from parley.relay import serializers as s
from parley.relay.actions.devices import (
    do_clear_registration_lock,
    do_register_device,
    do_set_business_block,
    do_set_registration_lock,
)
from parley.relay.actions.keys import do_claim_bundles, do_upload_keys
from parley.relay.actions.verification import (
    do_create_verification_session,
    do_request_verification_code,
    do_verify_code,
)
from parley.relay.auth import DeviceAuthentication, DevicePrincipal, authenticate_header_value
from parley.relay.models import Device
from parley.relay.selectors import (
    count_pre_keys,
    get_account,
    get_verification_session,
    list_devices,
    list_identity_changes,
    list_signed_pre_keys,
)

# Path parameters, ASCII only (`\d` and isdigit() accept other scripts' digits).
NUMBER = OpenApiParameter(
    "number",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^\+?[0-9]{6,15}$",
    description="An E.164 phone number.",
)
GUID = OpenApiParameter("guid", OpenApiTypes.UUID, OpenApiParameter.PATH)
DEVICE = re.compile(r"^[0-9]{1,3}$")
# The latest millisecond a date can carry (year 9999).
MAX_MS = 253_402_300_799_999


_number = handlers.number


def _ip(request: Request) -> str:
    return client_address(request) or "unknown"


class RelayView(ApiView):
    authentication_classes = [DeviceAuthentication]
    permission_classes = [IsAuthenticated]

    def device(self, request: Request) -> Device:
        return cast(DevicePrincipal, request.user).device


class AccountsView(RelayView):
    """POST /relay/v1/accounts: register (or re-register) a device; returns its credential.

    The primary device of a handset number brings a verified `session_id` (see
    VerificationSessionView); a business number authenticates with a Business API token
    (`Bearer PLY…`); linking a further device of an account authenticates with an existing
    device's credential."""

    authentication_classes = []
    permission_classes = []
    error_statuses = (401, 403, 409, 423, 429)

    @extend_schema(
        request=s.RegisterIn,
        responses={200: s.RegisterOut, 201: s.RegisterOut},
        summary="Register or re-register a device",
    )
    def post(self, request: Request) -> Response:
        ratelimit.hit(
            f"relay:register:ip:{_ip(request)}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_HOUR")),
            window_seconds=3600,
        )
        business: Business | None = None
        linked_by: Device | None = None
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer" and value.strip().startswith("PLY"):
                token = authenticate_api_token(value.strip())
                if token is None:
                    raise AuthenticationFailed("The Business API token is invalid or revoked.")
                if not token.can(Capability.MANAGE_NUMBERS):  # a business number's device
                    raise PermissionDenied(
                        "(#10) This access token does not have the permission "
                        "'manage_numbers' (Register business numbers)."
                    )
                business = token.business
            else:
                linked_by = authenticate_header_value(header)
                if linked_by is None:
                    raise AuthenticationFailed("Invalid device credential.")
        data = valid(s.RegisterIn, request)
        number = _number(data["number"])
        ratelimit.hit(
            f"relay:register:number:{number}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_NUMBER_PER_HOUR")),
            window_seconds=3600,
        )
        registration = do_register_device(
            e164=number,
            kind=data["kind"],
            device_id=data["device_id"],
            registration_id=data["registration_id"],
            identity_key=data["identity_key"],
            business=business,
            linked_by=linked_by,
            registration_lock=data.get("registration_lock") or None,
            session_id=data.get("session_id"),
        )
        return Response(
            {
                "number": registration.device.account.e164,
                "device_id": registration.device.device_id,
                "password": registration.password,
                "credential": str(registration.credential),
                "created": registration.created,
                "identity_changed": registration.identity_changed,
            },
            status=201 if registration.created else 200,
        )


class VerificationSessionView(RelayView):
    """POST /relay/v1/verification/session `{"number"}`: start proving control of a handset
    number; the answer carries the session's secret `id`."""

    authentication_classes = []
    permission_classes = []
    error_statuses = (403, 429)

    @extend_schema(
        request=s.VerificationSessionIn,
        responses={201: s.VerificationSessionOut},
        summary="Start verifying a handset number",
    )
    def post(self, request: Request) -> Response:
        ratelimit.hit(
            f"relay:verify:ip:{_ip(request)}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_HOUR")),
            window_seconds=3600,
        )
        number = _number(valid(s.VerificationSessionIn, request)["number"])
        ratelimit.hit(
            f"relay:verify:number:{number}",
            limit=int(conf.get("RELAY_REGISTER_RATE_PER_NUMBER_PER_HOUR")),
            window_seconds=3600,
        )
        created = do_create_verification_session(number)
        return Response(s.verification_session_out(created.id, created.session), status=201)


class VerificationSessionDetailView(RelayView):
    """GET /relay/v1/verification/session/{id}: the session's state."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(responses=s.VerificationSessionOut, summary="Read a verification session")
    def get(self, request: Request, session_id: str) -> Response:
        session = get_verification_session(session_id)
        return Response(s.verification_session_out(session_id, session))


class VerificationCodeView(RelayView):
    """POST /relay/v1/verification/session/{id}/code `{"transport": "sms"}`: the simulated
    carrier texts a new code to the number. PUT `{"code"}`: submit the code read from it."""

    authentication_classes = []
    permission_classes = []
    error_statuses = (409, 429)

    @extend_schema(
        request=s.VerificationCodeRequestIn,
        responses=s.VerificationSessionOut,
        summary="Send a verification code by SMS",
    )
    def post(self, request: Request, session_id: str) -> Response:
        data = valid(s.VerificationCodeRequestIn, request)
        session = do_request_verification_code(session_id, transport=data["transport"])
        return Response(s.verification_session_out(session_id, session))

    @extend_schema(
        request=s.VerificationCodeIn,
        responses=s.VerificationSessionOut,
        summary="Submit the verification code",
    )
    def put(self, request: Request, session_id: str) -> Response:
        data = valid(s.VerificationCodeIn, request)
        session = do_verify_code(session_id, data["code"])
        return Response(s.verification_session_out(session_id, session))


class WhoAmIView(RelayView):
    """GET /relay/v1/accounts/me"""

    @extend_schema(responses=s.WhoAmIOut, summary="This device and its account")
    def get(self, request: Request) -> Response:
        device = self.device(request)
        return Response(
            {
                "number": device.account.e164,
                "kind": device.account.kind,
                "device_id": device.device_id,
                "registration_id": device.registration_id,
                "devices": list(list_devices(device.account).values_list("device_id", flat=True)),
                "registration_lock": device.account.has_registration_lock,
            }
        )


class RegistrationLockView(RelayView):
    """PUT /relay/v1/accounts/registration-lock `{"pin": "1234"}` turns Registration Lock on
    (or changes the PIN); DELETE turns it off. Device 1 of a handset number only."""

    @extend_schema(
        request=s.RegistrationLockIn,
        responses=s.RegistrationLockOut,
        summary="Turn Registration Lock on or change its PIN",
    )
    def put(self, request: Request) -> Response:
        data = valid(s.RegistrationLockIn, request)
        do_set_registration_lock(self.device(request), data["pin"])
        return Response({"registration_lock": True})

    @extend_schema(responses={200: s.RegistrationLockOut}, summary="Turn Registration Lock off")
    def delete(self, request: Request) -> Response:
        do_clear_registration_lock(self.device(request))
        return Response({"registration_lock": False})


class BusinessBlockView(RelayView):
    """PUT /relay/v1/accounts/business-block blocks every business for the handset number
    (the relay refuses their messages as it refuses messages to an unknown number); DELETE
    unblocks. Device 1 of a handset number only."""

    @extend_schema(request=None, responses=s.BusinessBlockOut, summary="Block every business")
    def put(self, request: Request) -> Response:
        do_set_business_block(self.device(request), True)
        return Response({"blocks_businesses": True})

    @extend_schema(responses={200: s.BusinessBlockOut}, summary="Unblock businesses")
    def delete(self, request: Request) -> Response:
        do_set_business_block(self.device(request), False)
        return Response({"blocks_businesses": False})


class KeysView(RelayView):
    """PUT /relay/v1/keys: upload signed, ML-KEM and one-time pre-keys."""

    @extend_schema(request=s.KeysIn, responses=s.CountsOut, summary="Upload pre-keys")
    def put(self, request: Request) -> Response:
        counts = do_upload_keys(self.device(request), s.key_upload(valid(s.KeysIn, request)))
        return Response(s.counts_out(counts))


class KeyCountView(RelayView):
    """GET /relay/v1/keys/count: how many one-time pre-keys remain, and whether to top up."""

    @extend_schema(responses=s.CountsOut, summary="Count this device's pre-keys")
    def get(self, request: Request) -> Response:
        return Response(s.counts_out(count_pre_keys(self.device(request))))


class SignedKeysView(RelayView):
    """GET /relay/v1/keys/signed: the current signed pre-key and those in their grace
    period (so the owner knows which private keys it still needs)."""

    @extend_schema(responses=s.SignedKeysOut, summary="This device's signed pre-keys")
    def get(self, request: Request) -> Response:
        keys = list_signed_pre_keys(self.device(request))
        return Response(
            {
                "signed_pre_keys": [
                    {
                        "key_id": k.key_id,
                        "public_key": s.b64(k.public_key),
                        "current": k.superseded_at is None,
                        "uploaded_at": s.ms(k.uploaded_at),
                        "superseded_at": s.ms(k.superseded_at),
                    }
                    for k in keys
                ]
            }
        )


class BundleView(RelayView):
    """GET /relay/v1/keys/{number}/{device_id|*}: claim pre-key bundles."""

    error_statuses = (429,)

    @extend_schema(
        responses=s.BundleOut,
        summary="Claim pre-key bundles",
        parameters=[
            NUMBER,
            OpenApiParameter(
                "device",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=r"^(\*|[0-9]{1,3})$",
                description="A device id, or * for all devices.",
            ),
        ],
    )
    def get(self, request: Request, number: str, device: str) -> Response:
        requester = self.device(request)
        ratelimit.hit(
            f"relay:keys:{requester.pk}",
            limit=int(conf.get("RELAY_KEY_FETCH_RATE_PER_MINUTE")),
            window_seconds=60,
        )
        if device == "*":
            device_id = None
        elif DEVICE.match(device):
            device_id = int(device)
        else:
            raise InvalidParameter("device must be a device id or '*'.", field="device")
        account = get_account(_number(number))
        # Per requester and target as well, so one account cannot drain another number's
        # one-time pre-keys within the per-device limit.
        ratelimit.hit(
            f"relay:keys:{requester.account_id}:{account.pk}",
            limit=int(conf.get("RELAY_KEY_FETCH_RATE_PER_TARGET_PER_HOUR")),
            window_seconds=3600,
        )
        return Response(s.bundle_out(account.e164, do_claim_bundles(requester, account, device_id)))


class IdentityView(RelayView):
    """GET /relay/v1/identity/{number}?since=<ms>: identity keys of the number's devices and
    the identity changes registered after `since`."""

    @extend_schema(
        responses=s.IdentityOut,
        summary="Identity keys of a number's devices and their changes",
        parameters=[
            NUMBER,
            OpenApiParameter(
                "since",
                {"type": "integer", "minimum": 0, "maximum": MAX_MS},
                description="Milliseconds since the epoch.",
            ),
        ],
    )
    def get(self, request: Request, number: str) -> Response:
        since_ms = query_int(request, "since", default=0, minimum=0, maximum=MAX_MS)
        since = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC)
        account = get_account(_number(number))
        changes = list_identity_changes(account, since=since)
        return Response(
            {
                "number": account.e164,
                "devices": [
                    {
                        "device_id": d.device_id,
                        "identity_key": s.b64(d.identity_key),
                        "registered_at": s.ms(d.identity_registered_at),
                    }
                    for d in list_devices(account)
                ],
                "changes": [
                    {
                        "device_id": r.device_id,
                        "identity_key": s.b64(r.identity_key),
                        "registered_at": s.ms(r.registered_at),
                    }
                    for r in changes
                ],
            }
        )


class SendView(RelayView):
    """PUT /relay/v1/messages/{number}: one ciphertext per registered device of `number`."""

    error_statuses = (409, 410, 429)

    @extend_schema(
        request=s.MessagesIn,
        responses=s.SentOut,
        summary="Send one ciphertext per device of a number",
        parameters=[NUMBER],
    )
    def put(self, request: Request, number: str) -> Response:
        data = valid(s.MessagesIn, request)
        return Response(handlers.send(self.device(request), number, data))

    @extend_schema(exclude=True)
    def delete(self, request: Request, number: str) -> Response:
        # Message ids are UUIDs (AckView's route): anything else names no message.
        raise NotFound("No such message.")


class SendBatchView(RelayView):
    """PUT /relay/v1/messages/batch: several recipients' messages in one request."""

    @extend_schema(
        request=s.BatchIn,
        responses=s.BatchOut,
        summary="Send to several numbers at once",
        description=(
            "Each item is what `PUT /relay/v1/messages/{number}` takes for one recipient. "
            "Items are queued independently in one transaction: an item that fails (unknown "
            "number, device mismatch 409, stale devices 410, bad content) carries its error "
            "envelope and the status a single send would have had, and queues nothing."
        ),
    )
    def put(self, request: Request) -> Response:
        data = valid(s.BatchIn, request)
        return Response(handlers.send_batch(self.device(request), data))


class AcksView(RelayView):
    """POST /relay/v1/messages/acks: acknowledge several envelopes at once."""

    @extend_schema(
        request=s.AcksIn,
        responses=s.AcksOut,
        summary="Acknowledge (remove) several envelopes",
        description="Guids no longer queued for this device are skipped.",
    )
    def post(self, request: Request) -> Response:
        return Response(handlers.ack_many(self.device(request), valid(s.AcksIn, request)))


class MessagesView(RelayView):
    """GET /relay/v1/messages: this device's queued envelopes, oldest first."""

    @extend_schema(responses=s.MessagesOut, summary="This device's queued envelopes")
    def get(self, request: Request) -> Response:
        return Response(handlers.fetch(self.device(request)))


class AckView(RelayView):
    """DELETE /relay/v1/messages/{guid}: acknowledge (and so remove) an envelope."""

    @extend_schema(
        responses={204: None}, summary="Acknowledge (remove) an envelope", parameters=[GUID]
    )
    def delete(self, request: Request, guid: str) -> Response:
        handlers.ack(self.device(request), guid)
        return Response(status=204)


class ReceiptView(RelayView):
    """POST /relay/v1/receipts/{guid}: the message was read (body `{"kind": "read"}`), or
    its recipient is writing an answer (`{"kind": "typing"}`)."""

    @extend_schema(
        request=s.ReceiptIn,
        responses=s.RelaySuccessOut,
        summary="Tell the sender a message was read",
        parameters=[GUID],
    )
    def post(self, request: Request, guid: str) -> Response:
        kind = valid(s.ReceiptIn, request)["kind"] if request.data else "read"
        return Response(handlers.receipt(self.device(request), guid, kind))


def relay_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(envelope(f"Unknown path components: {request.path}", code=2500), status=404)
